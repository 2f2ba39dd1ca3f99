namespace TaiCache.Metrics;

/// <summary>What a <see cref="SloChecker"/> found for one snapshot: each judged objective, and the violations among them.</summary>
public sealed class SloCheckResult
{
    internal SloCheckResult(CacheMetrics metrics, IReadOnlyList<SloMeasurement> measurements)
    {
        Metrics = metrics;
        Measurements = measurements;
        Violations = measurements.Where(static m => !m.IsMet).ToArray();
    }

    /// <summary>Gets the snapshot that was judged.</summary>
    public CacheMetrics Metrics { get; }

    /// <summary>Gets every objective judged (objectives without a target or without enough data are left out).</summary>
    public IReadOnlyList<SloMeasurement> Measurements { get; }

    /// <summary>Gets the objectives not met, each with its measured value and target.</summary>
    public IReadOnlyList<SloMeasurement> Violations { get; }

    /// <summary>Gets a value indicating whether every judged objective was met.</summary>
    public bool IsMet => Violations.Count == 0;

    /// <summary>Gets the measurement of one objective, or <see langword="null"/> when it was not judged.</summary>
    /// <param name="objective">The objective.</param>
    /// <returns>The measurement.</returns>
    public SloMeasurement? Get(SloObjective objective) => Measurements.FirstOrDefault(m => m.Objective == objective);

    /// <inheritdoc />
    public override string ToString() => IsMet
        ? $"{Metrics.CacheName}/{Metrics.TierName}: all {Measurements.Count} objectives met"
        : $"{Metrics.CacheName}/{Metrics.TierName}: {Violations.Count} violated: {string.Join("; ", Violations)}";
}
