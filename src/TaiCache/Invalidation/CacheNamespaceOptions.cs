namespace TaiCache.Invalidation;

/// <summary>Options of a <see cref="CacheNamespace"/>. Validated once and copied when the namespace is built.</summary>
public sealed class CacheNamespaceOptions
{
    /// <summary>Gets or sets the prefix of the key holding a namespace's version in the version store. Default <c>taicache:nsv:</c>.</summary>
    public string VersionKeyPrefix { get; set; } = "taicache:nsv:";

    /// <summary>
    /// Gets or sets how long this instance reuses a version it read before reading it again. Zero (the default) reads
    /// it for every key, so an invalidation on another instance is seen at once; a positive value saves a round trip
    /// per read at the cost of serving the old namespace on this instance for up to that long.
    /// </summary>
    public TimeSpan VersionCacheDuration { get; set; } = TimeSpan.Zero;

    /// <summary>Gets or sets the clock. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrEmpty(VersionKeyPrefix))
        {
            throw new ArgumentException("CacheNamespaceOptions.VersionKeyPrefix must not be empty.", nameof(VersionKeyPrefix));
        }

        if (VersionCacheDuration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(VersionCacheDuration), VersionCacheDuration, "CacheNamespaceOptions.VersionCacheDuration must be zero or positive.");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("CacheNamespaceOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    internal CacheNamespaceOptions Clone() => (CacheNamespaceOptions)MemberwiseClone();
}
