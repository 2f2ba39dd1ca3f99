namespace TaiCache.Metrics;

/// <summary>
/// Service-level targets for a cache or tier. Defaults: hit rate at least 80%, miss rate at most 20%, eviction rate at
/// most 5%, hit latency at most 100 us and miss latency at most 1000 us at the 99th percentile. Set a target to
/// <see langword="null"/> to stop judging it. Validated and copied when a <see cref="SloChecker"/> is built.
/// </summary>
public sealed class SloTargets
{
    /// <summary>Gets or sets the lowest acceptable hit rate, in [0, 1]. Default 0.80.</summary>
    public double? MinHitRate { get; set; } = 0.80;

    /// <summary>Gets or sets the highest acceptable miss rate, in [0, 1]. Default 0.20.</summary>
    public double? MaxMissRate { get; set; } = 0.20;

    /// <summary>Gets or sets the highest acceptable capacity-eviction rate (see <see cref="CacheMetrics.EvictionRate"/>), in [0, 1]. Default 0.05.</summary>
    public double? MaxEvictionRate { get; set; } = 0.05;

    /// <summary>Gets or sets the highest acceptable hit latency at <see cref="LatencyPercentile"/>. Default 100 microseconds.</summary>
    public TimeSpan? MaxHitLatency { get; set; } = TimeSpan.FromMicroseconds(100);

    /// <summary>Gets or sets the highest acceptable miss latency at <see cref="LatencyPercentile"/>. Default 1000 microseconds.</summary>
    public TimeSpan? MaxMissLatency { get; set; } = TimeSpan.FromMicroseconds(1000);

    /// <summary>Gets or sets the percentile latencies are judged at, in (0, 100], such as 50, 99 or 99.9. Default 99.</summary>
    public double LatencyPercentile { get; set; } = 99;

    /// <summary>
    /// Gets or sets the fewest reads before the rate objectives are judged (fewer are too noisy to mean anything).
    /// Latency objectives need at least this many timed reads, or one when this is 0. Default 100.
    /// </summary>
    public long MinimumRequests { get; set; } = 100;

    /// <summary>Checks the targets; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A target is out of range.</exception>
    public void Validate()
    {
        CheckRate(MinHitRate, nameof(MinHitRate));
        CheckRate(MaxMissRate, nameof(MaxMissRate));
        CheckRate(MaxEvictionRate, nameof(MaxEvictionRate));
        if (MaxHitLatency is { } hit && hit <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxHitLatency), hit, "SloTargets.MaxHitLatency must be positive, or null to not judge it.");
        }

        if (MaxMissLatency is { } miss && miss <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMissLatency), miss, "SloTargets.MaxMissLatency must be positive, or null to not judge it.");
        }

        if (!(LatencyPercentile > 0 && LatencyPercentile <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(LatencyPercentile), LatencyPercentile, "SloTargets.LatencyPercentile must be in (0, 100].");
        }

        if (MinimumRequests < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MinimumRequests), MinimumRequests, "SloTargets.MinimumRequests must not be negative.");
        }
    }

    internal SloTargets Clone() => (SloTargets)MemberwiseClone();

    private static void CheckRate(double? rate, string name)
    {
        if (rate is { } r && !(r >= 0 && r <= 1))
        {
            throw new ArgumentOutOfRangeException(name, r, $"SloTargets.{name} must be in [0, 1], or null to not judge it.");
        }
    }
}
