namespace TaiCache.DependencyInjection;

/// <summary>The L1 (in-process) tier of a cache registered with <c>AddTaiCache</c>; configuration section <c>Memory</c>.</summary>
public sealed class TaiCacheMemorySettings
{
    /// <summary>Gets or sets a value indicating whether the cache has an in-memory L1 tier. Default <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the most entries (or total weight) kept. Default 10,000. See <see cref="InMemoryTierOptions.MaximumSize"/>.</summary>
    public long MaximumSize { get; set; } = 10_000;

    /// <summary>Gets or sets the time to live of entries set without one; <see langword="null"/> (the default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets the sliding expiration of L1 entries; <see langword="null"/> (the default) for none.</summary>
    public TimeSpan? SlidingExpiration { get; set; }

    /// <summary>Gets or sets a hook run on the tier's options after the settings above are applied (code only, not bound).</summary>
    public Action<InMemoryTierOptions>? Configure { get; set; }
}
