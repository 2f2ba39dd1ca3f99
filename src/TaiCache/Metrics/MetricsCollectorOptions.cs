namespace TaiCache.Metrics;

/// <summary>Options of a <see cref="MetricsCollector"/>. Validated once and copied when the collector is built.</summary>
public sealed class MetricsCollectorOptions
{
    /// <summary>
    /// Gets or sets how often <see cref="MetricsCollector.ShouldTimeOperation"/> (and <see cref="MetricsCollector.StartTiming"/>)
    /// says yes: one call in this many, per thread. 1 times every call. The in-memory tier times one read in this many
    /// rounded up to a power of two (10 becomes 16), so the test on its hit path is a mask.
    /// Must be between 1 and 1,000,000. Default 1,024: a clock read costs about as much as an L1 hit (20-30 ns on a
    /// cloud VM), so an L1 tier should read it rarely. Tiers that make a network or disk round trip time every call.
    /// </summary>
    public int LatencySampleInterval { get; set; } = 1024;

    /// <summary>
    /// Gets or sets the window <see cref="CacheMetrics.OperationsPerSecond"/> is measured over. Must be at least one
    /// millisecond. Default 10 seconds.
    /// </summary>
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets a value indicating whether the collector publishes through the <c>TaiCache</c> meter
    /// (<see cref="TaiCacheTelemetry"/>). Default <see langword="true"/>.
    /// </summary>
    public bool PublishToMeter { get; set; } = true;

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        if (LatencySampleInterval is < 1 or > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(LatencySampleInterval), LatencySampleInterval, "MetricsCollectorOptions.LatencySampleInterval must be between 1 and 1,000,000.");
        }

        if (RateWindow < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(RateWindow), RateWindow, "MetricsCollectorOptions.RateWindow must be at least one millisecond.");
        }
    }

    internal MetricsCollectorOptions Clone() => (MetricsCollectorOptions)MemberwiseClone();
}
