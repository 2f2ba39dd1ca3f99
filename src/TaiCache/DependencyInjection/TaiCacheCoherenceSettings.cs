namespace TaiCache.DependencyInjection;

/// <summary>
/// L1 coherence through Redis pub/sub (<see cref="Tiering.Coherence.CacheCoherence"/>) for a cache registered with
/// <c>AddTaiCache</c>; configuration section <c>Coherence</c>. Needs an L1 memory tier and a Redis tier.
/// </summary>
public sealed class TaiCacheCoherenceSettings
{
    /// <summary>Gets or sets a value indicating whether coherence runs. Default <see langword="false"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the namespace (instances sharing it see each other's invalidations); <see langword="null"/> for the cache's name.</summary>
    public string? Namespace { get; set; }

    /// <summary>Gets or sets how often each instance publishes a heartbeat. Default 5 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);
}
