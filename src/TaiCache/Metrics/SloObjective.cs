namespace TaiCache.Metrics;

/// <summary>One service-level objective a <see cref="SloChecker"/> judges.</summary>
public enum SloObjective
{
    /// <summary>Hits per read must be at least <see cref="SloTargets.MinHitRate"/>.</summary>
    HitRate = 0,

    /// <summary>Misses per read must be at most <see cref="SloTargets.MaxMissRate"/>.</summary>
    MissRate = 1,

    /// <summary>Capacity evictions per read must be at most <see cref="SloTargets.MaxEvictionRate"/>.</summary>
    EvictionRate = 2,

    /// <summary>The hit latency at <see cref="SloTargets.LatencyPercentile"/> must be at most <see cref="SloTargets.MaxHitLatency"/>.</summary>
    HitLatency = 3,

    /// <summary>The miss latency at <see cref="SloTargets.LatencyPercentile"/> must be at most <see cref="SloTargets.MaxMissLatency"/>.</summary>
    MissLatency = 4,
}
