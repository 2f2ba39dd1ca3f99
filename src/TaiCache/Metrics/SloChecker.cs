using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TaiCache.Metrics;

/// <summary>
/// Judges metrics snapshots against <see cref="SloTargets"/>, and raises <see cref="ViolationChanged"/> when an
/// objective of a cache and tier starts or stops being violated between two checks. Thread safe.
/// </summary>
/// <remarks>
/// Judge a window rather than the whole history to see recent trouble: pass
/// <see cref="TimeSeriesMetrics.GetWindow(int)"/> (or <c>now.Since(earlier)</c>) instead of a cumulative snapshot.
/// </remarks>
public sealed class SloChecker
{
    private readonly SloTargets _targets;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Cache, string Tier, SloObjective Objective), bool> _violated = [];

    /// <summary>Initializes a checker.</summary>
    /// <param name="targets">The targets; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where violations and recoveries are logged; none when <see langword="null"/>.</param>
    public SloChecker(SloTargets? targets = null, ILogger<SloChecker>? logger = null)
    {
        _targets = (targets ?? new SloTargets()).Clone();
        _targets.Validate();
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Raised (on the checking thread, after the check) when an objective starts or stops being violated.</summary>
    public event EventHandler<SloViolationChangedEventArgs>? ViolationChanged;

    /// <summary>Gets the percentile latencies are judged at.</summary>
    public double LatencyPercentile => _targets.LatencyPercentile;

    /// <summary>Takes a snapshot of a collector and judges it.</summary>
    /// <param name="collector">The collector.</param>
    /// <returns>The result.</returns>
    public SloCheckResult Check(MetricsCollector collector)
    {
        ArgumentNullException.ThrowIfNull(collector);
        return Check(collector.GetSnapshot());
    }

    /// <summary>Judges a snapshot.</summary>
    /// <param name="metrics">The snapshot (cumulative, or an interval from <see cref="CacheMetrics.Since"/>).</param>
    /// <returns>The result.</returns>
    public SloCheckResult Check(CacheMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var t = _targets;
        var measurements = new List<SloMeasurement>(5);
        if (metrics.Requests > 0 && metrics.Requests >= t.MinimumRequests)
        {
            if (t.MinHitRate is { } minHit)
            {
                measurements.Add(new SloMeasurement(SloObjective.HitRate, metrics.HitRate, minHit, metrics.HitRate >= minHit));
            }

            if (t.MaxMissRate is { } maxMiss)
            {
                measurements.Add(new SloMeasurement(SloObjective.MissRate, metrics.MissRate, maxMiss, metrics.MissRate <= maxMiss));
            }

            if (t.MaxEvictionRate is { } maxEviction)
            {
                measurements.Add(new SloMeasurement(SloObjective.EvictionRate, metrics.EvictionRate, maxEviction, metrics.EvictionRate <= maxEviction));
            }
        }

        var minTimed = Math.Max(1, t.MinimumRequests);
        AddLatency(measurements, SloObjective.HitLatency, metrics.HitLatency, t.MaxHitLatency, minTimed);
        AddLatency(measurements, SloObjective.MissLatency, metrics.MissLatency, t.MaxMissLatency, minTimed);

        var result = new SloCheckResult(metrics, measurements);
        List<SloViolationChangedEventArgs>? changes = null;
        lock (_gate)
        {
            foreach (var m in measurements)
            {
                var key = (metrics.CacheName, metrics.TierName, m.Objective);
                var was = _violated.TryGetValue(key, out var v) && v;
                if (was != !m.IsMet)
                {
                    _violated[key] = !m.IsMet;
                    (changes ??= []).Add(new SloViolationChangedEventArgs(metrics.CacheName, metrics.TierName, m));
                }
            }
        }

        if (changes is not null)
        {
            foreach (var change in changes)
            {
                Announce(change);
            }
        }

        return result;
    }

    /// <summary>Gets whether an objective of a cache and tier was violated at its last check.</summary>
    /// <param name="cacheName">The cache's name.</param>
    /// <param name="tierName">The tier's name.</param>
    /// <param name="objective">The objective.</param>
    /// <returns><see langword="true"/> when it was violated.</returns>
    public bool IsViolated(string cacheName, string tierName, SloObjective objective)
    {
        lock (_gate)
        {
            return _violated.TryGetValue((cacheName, tierName, objective), out var v) && v;
        }
    }

    private void AddLatency(List<SloMeasurement> measurements, SloObjective objective, LatencyDistribution latency, TimeSpan? target, long minTimed)
    {
        if (target is { } max && latency.Count >= minTimed)
        {
            var measured = latency.GetPercentileMicroseconds(_targets.LatencyPercentile);
            var targetUs = max.Ticks / 10.0;
            measurements.Add(new SloMeasurement(objective, measured, targetUs, measured <= targetUs));
        }
    }

    private void Announce(SloViolationChangedEventArgs change)
    {
        if (change.IsViolated)
        {
            Log.SloViolated(_logger, change.CacheName, change.TierName, change.Objective, change.Measurement.Measured, change.Measurement.Target, change.Measurement.Unit);
        }
        else
        {
            Log.SloRecovered(_logger, change.CacheName, change.TierName, change.Objective, change.Measurement.Measured, change.Measurement.Target, change.Measurement.Unit);
        }

        try
        {
            ViolationChanged?.Invoke(this, change);
        }
#pragma warning disable CA1031 // A subscriber's failure must not break the check that raised the event.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(_logger, ex, change.CacheName, change.TierName);
        }
    }
}
