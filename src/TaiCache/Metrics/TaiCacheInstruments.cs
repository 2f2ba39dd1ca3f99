using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace TaiCache.Metrics;

/// <summary>
/// The process-wide <see cref="Meter"/>, <see cref="ActivitySource"/> and instruments. Counters and gauges are
/// observable: a collection pass reads every live <see cref="MetricsCollector"/>'s striped counters, so recording
/// never touches the meter. Only sampled latencies go through <see cref="Duration"/>, and only while it is enabled.
/// </summary>
internal static class TaiCacheInstruments
{
    private static readonly Lock Gate = new();
    private static readonly List<WeakReference<MetricsCollector>> Collectors = [];
    private static int _pruneAt = 64;

    internal static readonly string? Version =
        typeof(TaiCacheInstruments).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    /// <summary>Bucket boundaries (seconds) from 1 us to 2.5 s: the default OpenTelemetry ones are for milliseconds.</summary>
    private static readonly double[] DurationBuckets =
    [
        1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
        1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5,
    ];

    internal static readonly Meter Meter = new(TaiCacheTelemetry.MeterName, Version);

    internal static readonly ActivitySource ActivitySource = new(TaiCacheTelemetry.ActivitySourceName, Version);

    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        TaiCacheTelemetry.DurationInstrument,
        TaiCacheTelemetry.DurationUnit,
        "How long timed cache reads took, by result (hit or miss). Reads are sampled, so the count is of timed reads.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    static TaiCacheInstruments()
    {
        Meter.CreateObservableCounter(TaiCacheTelemetry.HitsInstrument, () => Observe(static c => c.Hits), TaiCacheTelemetry.HitsUnit, "Reads that found a value.");
        Meter.CreateObservableCounter(TaiCacheTelemetry.MissesInstrument, () => Observe(static c => c.Misses), TaiCacheTelemetry.MissesUnit, "Reads that found nothing.");
        Meter.CreateObservableCounter(TaiCacheTelemetry.SetsInstrument, () => Observe(static c => c.Sets), TaiCacheTelemetry.SetsUnit, "Writes.");
        Meter.CreateObservableCounter(TaiCacheTelemetry.DeletesInstrument, () => Observe(static c => c.Deletes), TaiCacheTelemetry.DeletesUnit, "Explicit removals.");
        Meter.CreateObservableCounter(TaiCacheTelemetry.ErrorsInstrument, () => Observe(static c => c.Errors), TaiCacheTelemetry.ErrorsUnit, "Failed operations.");
        Meter.CreateObservableCounter(TaiCacheTelemetry.EvictionsInstrument, ObserveEvictions, TaiCacheTelemetry.EvictionsUnit, "Entries that left the cache, by reason.");
        Meter.CreateObservableGauge(TaiCacheTelemetry.ItemsInstrument, () => ObserveSize(static c => c.Items), TaiCacheTelemetry.ItemsUnit, "Entries held now.");
        Meter.CreateObservableGauge(TaiCacheTelemetry.PeakItemsInstrument, () => ObserveSize(static c => c.PeakItems, peak: true), TaiCacheTelemetry.ItemsUnit, "The most entries held since the collector started.");
        Meter.CreateObservableGauge(TaiCacheTelemetry.SizeInstrument, () => ObserveSize(static c => c.Bytes, bytes: true), TaiCacheTelemetry.SizeUnit, "Bytes (or weight units) held now.");
        Meter.CreateObservableGauge(TaiCacheTelemetry.PeakSizeInstrument, () => ObserveSize(static c => c.PeakBytes, bytes: true, peak: true), TaiCacheTelemetry.SizeUnit, "The most bytes held since the collector started.");
    }

    /// <summary>Adds a collector to those the observable instruments report (held weakly: a dropped collector disappears).</summary>
    /// <param name="collector">The collector.</param>
    internal static void Register(MetricsCollector collector)
    {
        lock (Gate)
        {
            // Dropped collectors are pruned on every collection pass; prune here too, so a process that builds many
            // collectors while nobody collects does not keep their weak references forever.
            if (Collectors.Count >= _pruneAt)
            {
                Collectors.RemoveAll(static w => !w.TryGetTarget(out _));
                _pruneAt = Math.Max(64, Collectors.Count * 2);
            }

            Collectors.Add(new WeakReference<MetricsCollector>(collector));
        }
    }

    /// <summary>Stops reporting a collector.</summary>
    /// <param name="collector">The collector.</param>
    internal static void Unregister(MetricsCollector collector)
    {
        lock (Gate)
        {
            Collectors.RemoveAll(w => !w.TryGetTarget(out var c) || ReferenceEquals(c, collector));
        }
    }

    private static List<MetricsCollector> Live()
    {
        lock (Gate)
        {
            var live = new List<MetricsCollector>(Collectors.Count);
            Collectors.RemoveAll(w =>
            {
                if (w.TryGetTarget(out var c))
                {
                    live.Add(c);
                    return false;
                }

                return true;
            });
            return live;
        }
    }

    /// <summary>
    /// One measurement per series (cache name and tier): collectors that share both (two hosts in one process, a cache
    /// rebuilt under its name) are summed, because an exporter keeps only one value per series of an observable
    /// instrument and would drop the others.
    /// </summary>
    private static List<Measurement<long>> Observe(Func<MetricsCollector, long> read) =>
        Combine(Live(), read, static (a, b) => a + b);

    /// <summary>Size gauges only for tiers that report their size: a remote tier that cannot count (or a count-bounded tier, for bytes) is absent, not 0.</summary>
    private static List<Measurement<long>> ObserveSize(Func<MetricsCollector, long> read, bool bytes = false, bool peak = false) =>
        Combine(Live().FindAll(c => bytes ? c.BytesReported : c.SizeReported), read, peak ? Math.Max : static (a, b) => a + b);

    private static List<Measurement<long>> ObserveEvictions()
    {
        var live = Live();
        var measurements = new List<Measurement<long>>(live.Count * MetricsCollector.EvictionReasonCount);
        for (var reason = 0; reason < MetricsCollector.EvictionReasonCount; reason++)
        {
            var r = reason;
            measurements.AddRange(Combine(live, c => c.GetEvictions((EvictionReason)r), static (a, b) => a + b, c => c.EvictionTags[r]));
        }

        return measurements;
    }

    /// <summary>Reads every collector and merges those of one series (same cache name and tier) with <paramref name="merge"/>.</summary>
    private static List<Measurement<long>> Combine(List<MetricsCollector> collectors, Func<MetricsCollector, long> read, Func<long, long, long> merge, Func<MetricsCollector, KeyValuePair<string, object?>[]>? tags = null)
    {
        var values = new List<(MetricsCollector First, long Value)>(collectors.Count);
        Dictionary<(string, string), int>? seen = null;
        foreach (var collector in collectors)
        {
            var value = read(collector);
            seen ??= new Dictionary<(string, string), int>(collectors.Count);
            if (seen.TryGetValue((collector.CacheName, collector.TierName), out var at))
            {
                values[at] = (values[at].First, merge(values[at].Value, value));
            }
            else
            {
                seen[(collector.CacheName, collector.TierName)] = values.Count;
                values.Add((collector, value));
            }
        }

        return values.ConvertAll(v => new Measurement<long>(v.Value, tags?.Invoke(v.First) ?? v.First.Tags));
    }
}
