using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using TaiCache.Metrics;

namespace TaiCache.Benchmarks.Metrics;

/// <summary>
/// An L1 hit (<see cref="InMemoryTier.TryGet{T}(string, out T)"/>) with metrics off, and with the recording a tier
/// does on a hit: a counter only, a counter plus 1-in-64 sampled latency (with and without a listener on the
/// duration histogram), and, for contrast, reading the clock on every call. The same recording around a bare
/// <see cref="ConcurrentDictionary{TKey, TValue}"/> lookup shows the overhead against a ~10-20 ns hit.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MetricsBenchmarkConfig))]
[MinColumn]
[MedianColumn]
public class L1HitMetricsBenchmarks
{
    private const string Key = "bench:user:42";

    private readonly ConcurrentDictionary<string, string> _dictionary = new(StringComparer.Ordinal);
    private InMemoryTier _tier = null!;
    private MetricsCollector _collector = null!;
    private MeterListener? _listener;

    [Params(false, true)]
    public bool DurationListener { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _tier = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000 });
        _tier.Set(Key, "value");
        _dictionary[Key] = "value";
        _collector = new MetricsCollector("bench", "L1", null, new MetricsCollectorOptions { LatencySampleInterval = 64 });
        if (DurationListener)
        {
            _listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == TaiCacheTelemetry.MeterName)
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            _listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
            _listener.Start();
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _listener?.Dispose();
        _collector.Dispose();
        await _tier.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "TryGet, metrics off")]
    public string? MetricsOff() => _tier.TryGet<string>(Key, out var v) ? v : null;

    [Benchmark(Description = "TryGet + RecordHit()")]
    public string? CounterOnly()
    {
        if (_tier.TryGet<string>(Key, out var v))
        {
            _collector.RecordHit();
            return v;
        }

        _collector.RecordMiss();
        return null;
    }

    [Benchmark(Description = "TryGet + sampled latency 1-in-64")]
    public string? SampledLatency()
    {
        var start = _collector.StartTiming();
        if (_tier.TryGet<string>(Key, out var v))
        {
            _collector.RecordHitTimed(start);
            return v;
        }

        _collector.RecordMissTimed(start);
        return null;
    }

    [Benchmark(Description = "TryGet + Stopwatch every call")]
    public string? TimedEveryCall()
    {
        var start = Stopwatch.GetTimestamp();
        if (_tier.TryGet<string>(Key, out var v))
        {
            _collector.RecordHit(Stopwatch.GetElapsedTime(start));
            return v;
        }

        _collector.RecordMiss(Stopwatch.GetElapsedTime(start));
        return null;
    }

    [Benchmark(Description = "ConcurrentDictionary, metrics off")]
    public string? DictionaryOff() => _dictionary.TryGetValue(Key, out var v) ? v : null;

    [Benchmark(Description = "ConcurrentDictionary + RecordHit()")]
    public string? DictionaryCounter()
    {
        if (_dictionary.TryGetValue(Key, out var v))
        {
            _collector.RecordHit();
            return v;
        }

        _collector.RecordMiss();
        return null;
    }

    [Benchmark(Description = "ConcurrentDictionary + sampled latency 1-in-64")]
    public string? DictionarySampled()
    {
        var start = _collector.StartTiming();
        if (_dictionary.TryGetValue(Key, out var v))
        {
            _collector.RecordHitTimed(start);
            return v;
        }

        _collector.RecordMissTimed(start);
        return null;
    }
}
