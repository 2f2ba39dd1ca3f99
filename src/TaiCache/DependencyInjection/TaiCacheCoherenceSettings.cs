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

    /// <summary>
    /// Gets or sets how many heartbeat intervals may pass without the instance hearing itself before its subscription
    /// counts as silent (and L1 is cleared). Default 3; at least 2.
    /// </summary>
    public int MissedHeartbeatsBeforeResync { get; set; } = 3;

    /// <summary>
    /// Gets or sets how long the invalidation a write publishes is waited for before the write reports a
    /// <see cref="CacheConnectionException"/>. Default 2 s; at most 1 hour.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
