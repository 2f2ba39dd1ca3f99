using BenchmarkDotNet.Attributes;
using TaiCache.Metrics;

namespace TaiCache.Benchmarks.Metrics;

/// <summary>
/// What one recorded operation costs. Each benchmark loops <see cref="Ops"/> times, so the reported mean is per call.
/// The contended pair runs two threads at once: the striped collector against one shared Interlocked counter.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MetricsBenchmarkConfig))]
[MinColumn]
[MedianColumn]
public class MetricsRecordingBenchmarks
{
    private const int Ops = 1_000;
    private const int ContendedOps = 1_000_000;

    private MetricsCollector _collector = null!;
    private long _shared;

    [GlobalSetup]
    public void Setup() =>
        _collector = new MetricsCollector("bench", "L1", null, new MetricsCollectorOptions { LatencySampleInterval = 64, PublishToMeter = false });

    [GlobalCleanup]
    public void Cleanup() => _collector.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops, Description = "Interlocked.Increment (shared field)")]
    public void SharedInterlocked()
    {
        for (var i = 0; i < Ops; i++)
        {
            Interlocked.Increment(ref _shared);
        }
    }

    [Benchmark(OperationsPerInvoke = Ops, Description = "Thread.GetCurrentProcessorId (stripe pick)")]
    public int ProcessorId()
    {
        var n = 0;
        for (var i = 0; i < Ops; i++)
        {
            n += Thread.GetCurrentProcessorId();
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RecordHit()
    {
        var c = _collector;
        for (var i = 0; i < Ops; i++)
        {
            c.RecordHit();
        }
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RecordMiss()
    {
        var c = _collector;
        for (var i = 0; i < Ops; i++)
        {
            c.RecordMiss();
        }
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RecordEviction()
    {
        var c = _collector;
        for (var i = 0; i < Ops; i++)
        {
            c.RecordEviction(EvictionReason.Size);
        }
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int ShouldTimeOperation()
    {
        var c = _collector;
        var n = 0;
        for (var i = 0; i < Ops; i++)
        {
            if (c.ShouldTimeOperation())
            {
                n++;
            }
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = Ops, Description = "RecordHitTimed(StartTiming()) 1-in-64")]
    public void RecordHitSampled()
    {
        var c = _collector;
        for (var i = 0; i < Ops; i++)
        {
            c.RecordHitTimed(c.StartTiming());
        }
    }

    [Benchmark(OperationsPerInvoke = Ops, Description = "RecordHit(TimeSpan) every call")]
    public void RecordHitWithLatency()
    {
        var c = _collector;
        var latency = TimeSpan.FromTicks(3);
        for (var i = 0; i < Ops; i++)
        {
            c.RecordHit(latency);
        }
    }

    [Benchmark(OperationsPerInvoke = ContendedOps * 2, Description = "2 threads: shared Interlocked")]
    public void ContendedShared() => Parallel.For(0, 2, _ =>
    {
        for (var i = 0; i < ContendedOps; i++)
        {
            Interlocked.Increment(ref _shared);
        }
    });

    [Benchmark(OperationsPerInvoke = ContendedOps * 2, Description = "2 threads: striped RecordHit")]
    public void ContendedStriped() => Parallel.For(0, 2, _ =>
    {
        var c = _collector;
        for (var i = 0; i < ContendedOps; i++)
        {
            c.RecordHit();
        }
    });
}
