using Microsoft.Extensions.Time.Testing;
using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

public sealed class MetricsCollectorTests
{
    private static MetricsCollector NewCollector(string test, TimeProvider? time = null, MetricsCollectorOptions? options = null) =>
        new($"{nameof(MetricsCollectorTests)}:{test}:{Guid.NewGuid():N}", "memory", time, options ?? new MetricsCollectorOptions { PublishToMeter = false });

    [Fact]
    public void Record_ManyThreadsConcurrently_CountsAreExact()
    {
        const int threads = 8;
        const int perThread = 100_000;
        var collector = NewCollector(nameof(Record_ManyThreadsConcurrently_CountsAreExact));
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < perThread; i++)
            {
                collector.RecordHit();
                if ((i & 1) == 0)
                {
                    collector.RecordMiss();
                }

                if ((i & 3) == 0)
                {
                    collector.RecordSet();
                    collector.RecordEviction((EvictionReason)(i / 4 % 4));
                }

                if ((i & 7) == 0)
                {
                    collector.RecordDelete();
                    collector.RecordError();
                }

                if ((i & 255) == 0)
                {
                    collector.RecordHit(TimeSpan.FromMicroseconds(3));
                    collector.RecordMiss(TimeSpan.FromMicroseconds(300));
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        var timed = threads * ((perThread + 255) / 256);
        var snapshot = collector.GetSnapshot();
        Assert.Equal((threads * perThread) + timed, snapshot.Hits);
        Assert.Equal((threads * perThread / 2) + timed, snapshot.Misses);
        Assert.Equal(threads * perThread / 4, snapshot.Sets);
        Assert.Equal(threads * perThread / 8, snapshot.Deletes);
        Assert.Equal(threads * perThread / 8, snapshot.Errors);
        Assert.Equal(threads * perThread / 4, snapshot.Evictions);
        foreach (var reason in Enum.GetValues<EvictionReason>())
        {
            Assert.Equal(threads * perThread / 16, snapshot.GetEvictions(reason));
            Assert.Equal(threads * perThread / 16, collector.GetEvictions(reason));
        }

        Assert.Equal(timed, snapshot.HitLatency.Count);
        Assert.Equal(timed, snapshot.MissLatency.Count);
        Assert.Equal(snapshot.Hits, collector.Hits);
        Assert.Equal(snapshot.Misses, collector.Misses);
    }

    [Fact]
    public void Record_FromManyStackDepthsAndShortLivedThreads_CountsAreExact()
    {
        // Threads find their cells by stack page: 300 nested frames of 4 KiB each use more pages than the collector has
        // slots (so some pages collide and take the thread-static path), threads run side by side, and later waves of
        // threads get the stacks (pages) of earlier ones that exited.
        const int waves = 3;
        const int threadsPerWave = 4;
        const int rounds = 10;
        const int depth = 300;
        const int perFrame = 50;
        var collector = NewCollector(nameof(Record_FromManyStackDepthsAndShortLivedThreads_CountsAreExact));
        for (var wave = 0; wave < waves; wave++)
        {
            using var start = new Barrier(threadsPerWave);
            var workers = Enumerable.Range(0, threadsPerWave).Select(_ => new Thread(
                () =>
                {
                    start.SignalAndWait();
                    for (var round = 0; round < rounds; round++)
                    {
                        RecordAtEveryDepth(collector, depth, perFrame);
                    }
                },
                16 * 1024 * 1024)).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
        }

        Assert.Equal((long)waves * threadsPerWave * rounds * (depth + 1) * perFrame, collector.Hits);
        Assert.Equal((long)waves * threadsPerWave * rounds * (depth + 1), collector.GetSnapshot().Sets);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static int RecordAtEveryDepth(MetricsCollector collector, int depth, int perFrame)
    {
        Span<byte> padding = stackalloc byte[4096];
        padding[depth % padding.Length] = 1;
        for (var i = 0; i < perFrame; i++)
        {
            collector.RecordHit();
        }

        collector.RecordSet();
        return padding[depth % padding.Length] + (depth > 0 ? RecordAtEveryDepth(collector, depth - 1, perFrame) : 0);
    }

    [Fact]
    public void Record_ManyCollectorsAlternatingOnOneThread_EachCountIsExact()
    {
        // More collectors than the per-thread cache has slots: some share a slot and evict each other's cell.
        var collectors = Enumerable.Range(0, 40).Select(i => NewCollector($"{nameof(Record_ManyCollectorsAlternatingOnOneThread_EachCountIsExact)}{i}")).ToArray();
        for (var round = 0; round < 1_000; round++)
        {
            for (var i = 0; i < collectors.Length; i++)
            {
                for (var k = 0; k <= i; k++)
                {
                    collectors[i].RecordHit();
                }
            }
        }

        for (var i = 0; i < collectors.Length; i++)
        {
            Assert.Equal(1_000L * (i + 1), collectors[i].Hits);
        }
    }

    [Fact]
    public void GetSnapshot_HitsAndMisses_RatesAreDerived()
    {
        var collector = NewCollector(nameof(GetSnapshot_HitsAndMisses_RatesAreDerived));
        for (var i = 0; i < 90; i++)
        {
            collector.RecordHit();
        }

        for (var i = 0; i < 10; i++)
        {
            collector.RecordMiss();
        }

        collector.RecordEviction(EvictionReason.Size);
        collector.RecordEviction(EvictionReason.Size);
        collector.RecordEviction(EvictionReason.Expired);

        var m = collector.GetSnapshot();
        Assert.Equal(100, m.Requests);
        Assert.Equal(0.9, m.HitRate, 10);
        Assert.Equal(0.1, m.MissRate, 10);
        Assert.Equal(0.02, m.EvictionRate, 10); // capacity evictions only
        Assert.Equal(3, m.Evictions);
    }

    [Fact]
    public void GetSnapshot_NoReads_RatesAreZero()
    {
        var m = NewCollector(nameof(GetSnapshot_NoReads_RatesAreZero)).GetSnapshot();
        Assert.Equal(0, m.HitRate);
        Assert.Equal(0, m.MissRate);
        Assert.Equal(0, m.EvictionRate);
        Assert.Equal(0, m.HitLatency.Count);
    }

    [Fact]
    public void UpdateSize_GrowsThenShrinks_KeepsCurrentAndPeak()
    {
        var collector = NewCollector(nameof(UpdateSize_GrowsThenShrinks_KeepsCurrentAndPeak));
        collector.UpdateSize(10, 1_000);
        collector.UpdateSize(50, 4_000);
        collector.UpdateSize(20, 9_000);
        collector.UpdateSize(5, 100);

        var m = collector.GetSnapshot();
        Assert.Equal(5, m.Items);
        Assert.Equal(100, m.Bytes);
        Assert.Equal(50, m.PeakItems);
        Assert.Equal(9_000, m.PeakBytes);
    }

    [Fact]
    public void RecordHit_WithLatency_GoesToHitHistogramOnly()
    {
        var collector = NewCollector(nameof(RecordHit_WithLatency_GoesToHitHistogramOnly));
        collector.RecordHit(TimeSpan.FromMicroseconds(40));
        collector.RecordMiss(TimeSpan.FromMilliseconds(2));

        var m = collector.GetSnapshot();
        Assert.Equal(1, m.HitLatency.Count);
        Assert.Equal(1, m.MissLatency.Count);
        Assert.InRange(m.HitLatency.P50Microseconds, 40 * (1 - LatencyDistribution.RelativeError), 40 * (1 + LatencyDistribution.RelativeError));
        Assert.InRange(m.MissLatency.P50Microseconds, 2000 * (1 - LatencyDistribution.RelativeError), 2000 * (1 + LatencyDistribution.RelativeError));
        Assert.Equal(2000, m.MissLatency.MaxMicroseconds, 6);
    }

    [Fact]
    public void RecordHit_HoursLongLatencies_PercentilesWithinBucketError()
    {
        var collector = NewCollector(nameof(RecordHit_HoursLongLatencies_PercentilesWithinBucketError));
        collector.RecordHit(TimeSpan.FromHours(2));
        collector.RecordHit(TimeSpan.FromHours(3));
        collector.RecordHit(TimeSpan.Zero);
        collector.RecordMiss(TimeSpan.MaxValue);

        var m = collector.GetSnapshot();
        var twoHours = TimeSpan.FromHours(2).TotalMicroseconds;
        Assert.InRange(m.HitLatency.P50Microseconds, twoHours * (1 - LatencyDistribution.RelativeError), twoHours * (1 + LatencyDistribution.RelativeError));
        Assert.Equal(TimeSpan.FromHours(3).TotalMicroseconds, m.HitLatency.P99Microseconds, 6);
        Assert.Equal(TimeSpan.FromHours(3).TotalMicroseconds, m.HitLatency.MaxMicroseconds, 6);

        // A span too long for a long of nanoseconds saturates instead of wrapping to a negative (recorded as 0).
        Assert.Equal(long.MaxValue / 1000.0, m.MissLatency.MaxMicroseconds, 6);
        Assert.Equal(long.MaxValue / 1000.0, m.MissLatency.P50Microseconds, 6);
    }

    [Fact]
    public void ShouldTimeOperation_IntervalOne_AlwaysTrue()
    {
        var collector = NewCollector(nameof(ShouldTimeOperation_IntervalOne_AlwaysTrue), options: new() { LatencySampleInterval = 1, PublishToMeter = false });
        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(collector.ShouldTimeOperation());
        }
    }

    [Fact]
    public void ShouldTimeOperation_IntervalSixteen_SamplesAboutOneInSixteen()
    {
        var collector = NewCollector(nameof(ShouldTimeOperation_IntervalSixteen_SamplesAboutOneInSixteen), options: new() { LatencySampleInterval = 16, PublishToMeter = false });
        var sampled = 0;
        const int calls = 16_000;
        for (var i = 0; i < calls; i++)
        {
            if (collector.ShouldTimeOperation())
            {
                sampled++;
            }
        }

        // One countdown per thread and collector: one call in sixteen, starting with the sixteenth (a cold first call is
        // not a sample). The countdown lives in a cell found by the stack's page: should the loop's frame move (the JIT
        // replacing it mid-loop), a fresh cell restarts the count, which costs at most one sample (seen once: 999).
        Assert.InRange(sampled, (calls / 16) - 1, calls / 16);
    }

    [Fact]
    public void StartTiming_SampledCall_RecordsElapsedFromTheClock()
    {
        var time = new FakeTimeProvider();
        var collector = NewCollector(nameof(StartTiming_SampledCall_RecordsElapsedFromTheClock), time, new() { LatencySampleInterval = 1, PublishToMeter = false });

        var start = collector.StartTiming();
        Assert.NotEqual(0, start);
        time.Advance(TimeSpan.FromMicroseconds(250));
        collector.RecordMissTimed(start);

        var m = collector.GetSnapshot();
        Assert.Equal(1, m.Misses);
        Assert.Equal(1, m.MissLatency.Count);
        Assert.InRange(m.MissLatency.P50Microseconds, 250 * (1 - LatencyDistribution.RelativeError), 250 * (1 + LatencyDistribution.RelativeError));
    }

    [Fact]
    public void RecordHitTimed_ZeroStart_CountsWithoutLatency()
    {
        var collector = NewCollector(nameof(RecordHitTimed_ZeroStart_CountsWithoutLatency));
        collector.RecordHitTimed(0);
        var m = collector.GetSnapshot();
        Assert.Equal(1, m.Hits);
        Assert.Equal(0, m.HitLatency.Count);
    }

    [Fact]
    public void GetSnapshot_FakeClock_OperationsPerSecondOverWindow()
    {
        var time = new FakeTimeProvider();
        var collector = NewCollector(nameof(GetSnapshot_FakeClock_OperationsPerSecondOverWindow), time, new() { RateWindow = TimeSpan.FromSeconds(10), PublishToMeter = false });

        // 100 ops/s for 20 s, snapshotting every second, then 1,000 ops/s for 10 s.
        for (var s = 0; s < 20; s++)
        {
            for (var i = 0; i < 100; i++)
            {
                collector.RecordHit();
            }

            time.Advance(TimeSpan.FromSeconds(1));
            collector.GetSnapshot();
        }

        Assert.Equal(100, collector.GetSnapshot().OperationsPerSecond, 6);

        for (var s = 0; s < 10; s++)
        {
            for (var i = 0; i < 1_000; i++)
            {
                collector.RecordSet();
            }

            time.Advance(TimeSpan.FromSeconds(1));
            collector.GetSnapshot();
        }

        var m = collector.GetSnapshot();
        Assert.Equal(1_000, m.OperationsPerSecond, 6);
        Assert.Equal(TimeSpan.FromSeconds(30), m.Uptime);
    }

    [Fact]
    public void Since_TwoSnapshots_GivesTheIntervalOnly()
    {
        var time = new FakeTimeProvider();
        var collector = NewCollector(nameof(Since_TwoSnapshots_GivesTheIntervalOnly), time);
        collector.RecordHit(TimeSpan.FromMicroseconds(10));
        collector.RecordMiss();
        var first = collector.GetSnapshot();
        time.Advance(TimeSpan.FromSeconds(2));
        collector.RecordHit(TimeSpan.FromMicroseconds(500));
        collector.RecordHit();
        collector.RecordHit();
        collector.RecordMiss();
        var interval = collector.GetSnapshot().Since(first);

        Assert.Equal(3, interval.Hits);
        Assert.Equal(1, interval.Misses);
        Assert.Equal(0.75, interval.HitRate, 10);
        Assert.Equal(TimeSpan.FromSeconds(2), interval.Uptime);
        Assert.Equal(2, interval.OperationsPerSecond, 6);
        Assert.Equal(1, interval.HitLatency.Count);
        Assert.InRange(interval.HitLatency.P50Microseconds, 500 * (1 - LatencyDistribution.RelativeError), 500 * (1 + LatencyDistribution.RelativeError));
    }

    [Fact]
    public void Options_Invalid_ThrowNamingTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MetricsCollector("c", "t", null, new MetricsCollectorOptions { LatencySampleInterval = 0 }));
        Assert.Contains(nameof(MetricsCollectorOptions.LatencySampleInterval), ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MetricsCollector("c", "t", null, new MetricsCollectorOptions { RateWindow = TimeSpan.Zero }));
        Assert.Contains(nameof(MetricsCollectorOptions.RateWindow), ex.Message);
        Assert.Throws<ArgumentException>(() => new MetricsCollector(" ", "t"));
    }

    [Fact]
    public void Formatter_SnapshotAndSlo_PrintsEveryCacheAndObjective()
    {
        var collector = NewCollector(nameof(Formatter_SnapshotAndSlo_PrintsEveryCacheAndObjective));
        for (var i = 0; i < 200; i++)
        {
            collector.RecordHit(TimeSpan.FromMicroseconds(20));
        }

        var snapshot = collector.GetSnapshot();
        var result = new SloChecker().Check(snapshot);
        var table = MetricsReportFormatter.FormatTable([snapshot], [result]);

        Assert.Contains(collector.CacheName + "/memory", table);
        Assert.Contains("100.0%", table);
        Assert.Contains(nameof(SloObjective.HitLatency), table);
        Assert.Contains("ok", table);
        Assert.Contains("hits=200", snapshot.ToString());
    }

    [Fact]
    public void FormatLine_SizeNeverReported_ShowsADashNotZero()
    {
        var silent = NewCollector(nameof(FormatLine_SizeNeverReported_ShowsADashNotZero) + "silent");
        var sized = NewCollector(nameof(FormatLine_SizeNeverReported_ShowsADashNotZero) + "sized");
        silent.RecordHit();
        sized.UpdateSize(0, 0);

        Assert.False(silent.GetSnapshot().SizeReported);
        Assert.True(sized.GetSnapshot().SizeReported);
        Assert.Contains("items=- bytes=-", MetricsReportFormatter.FormatLine(silent.GetSnapshot()), StringComparison.Ordinal);
        Assert.Contains("items=0 bytes=0", MetricsReportFormatter.FormatLine(sized.GetSnapshot()), StringComparison.Ordinal);
    }
}
