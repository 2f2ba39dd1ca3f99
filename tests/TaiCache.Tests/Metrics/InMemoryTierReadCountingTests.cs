using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

/// <summary>
/// The in-memory tier counts a read before it knows hit from miss and reports only the misses: hits are the counted
/// reads that did not miss. These tests hold that to exact counts, to hits that never go down while reads run, and to
/// the documented rounding of the sample interval.
/// </summary>
public sealed class InMemoryTierReadCountingTests
{
    private static MetricsCollector Collector(string test, int sampleInterval = 1024) =>
        new($"{nameof(InMemoryTierReadCountingTests)}:{test}:{Guid.NewGuid():N}", "L1", null, new MetricsCollectorOptions { PublishToMeter = false, LatencySampleInterval = sampleInterval });

    private static string Key(string test) => $"{nameof(InMemoryTierReadCountingTests)}:{test}:{Guid.NewGuid():N}";

    [Fact]
    public void TryGet_ManyThreadsHitsAndMisses_CountsAreExact()
    {
        const int threads = 6;
        const int perThread = 60_000;
        var metrics = Collector(nameof(TryGet_ManyThreadsHitsAndMisses_CountsAreExact), sampleInterval: 8);
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, Metrics = metrics });
        var key = Key(nameof(TryGet_ManyThreadsHitsAndMisses_CountsAreExact));
        tier.Set(key, 1);
        tier.Set(key + ":ttl", 2, TimeSpan.FromHours(1));

        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < perThread; i++)
            {
                // Two hits (one on an entry with a TTL) and one miss in every three reads; the public recorders mixed in.
                var read = (i % 3) switch { 0 => key, 1 => key + ":ttl", _ => key + ":missing" };
                tier.TryGet<int>(read, out _);
                if (i % 100 == 0)
                {
                    metrics.RecordHit();
                    metrics.RecordMiss();
                }
            }
        })).ToArray();
        foreach (var worker in workers)
        {
            worker.Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        var snapshot = metrics.GetSnapshot();
        const long recorded = threads * (perThread / 100);
        Assert.Equal((threads * perThread * 2 / 3) + recorded, snapshot.Hits);
        Assert.Equal((threads * perThread / 3) + recorded, snapshot.Misses);
        Assert.Equal(snapshot.Hits, metrics.Hits);
        Assert.Equal(snapshot.Misses, metrics.Misses);
        Assert.True(snapshot.HitLatency.Count > 0 && snapshot.MissLatency.Count > 0, "every eighth read is timed, hits and misses alike");
    }

    [Fact]
    public void Snapshots_WhileReadsHitAndMiss_HitsAndMissesNeverGoDown()
    {
        const int readers = 2;
        var metrics = Collector(nameof(Snapshots_WhileReadsHitAndMiss_HitsAndMissesNeverGoDown));
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, Metrics = metrics });
        var key = Key(nameof(Snapshots_WhileReadsHitAndMiss_HitsAndMissesNeverGoDown));
        tier.Set(key, 1);

        var stop = 0;
        var reads = new long[readers];
        var workers = Enumerable.Range(0, readers).Select(t => new Thread(() =>
        {
            // Mostly misses, so that snapshots often land between a read's count and its miss.
            long n = 0;
            while (Volatile.Read(ref stop) == 0)
            {
                tier.TryGet<int>((n & 3) == 0 ? key : key + ":missing", out _);
                n++;
            }

            reads[t] = n;
        })).ToArray();
        foreach (var worker in workers)
        {
            worker.Start();
        }

        long lastHits = 0, lastMisses = 0, snapshots = 0;
        var until = DateTime.UtcNow.AddMilliseconds(300);
        while (DateTime.UtcNow < until || snapshots < 1000)
        {
            var snapshot = metrics.GetSnapshot();
            var hits = metrics.Hits;
            Assert.True(snapshot.Hits >= lastHits, $"hits went down from {lastHits} to {snapshot.Hits}");
            Assert.True(hits >= snapshot.Hits, $"hits went down from {snapshot.Hits} to {hits}");
            Assert.True(snapshot.Misses >= lastMisses, $"misses went down from {lastMisses} to {snapshot.Misses}");
            (lastHits, lastMisses) = (hits, snapshot.Misses);
            snapshots++;
        }

        Volatile.Write(ref stop, 1);
        foreach (var worker in workers)
        {
            worker.Join();
        }

        // A snapshot may have taken a read in flight for a hit; as many later hits as there were readers settle it.
        for (var i = 0; i < readers; i++)
        {
            Assert.True(tier.TryGet<int>(key, out _));
        }

        var expectedHits = reads.Sum(n => (n + 3) / 4) + readers;
        var expectedMisses = reads.Sum() - reads.Sum(n => (n + 3) / 4);
        Assert.Equal(expectedMisses, metrics.Misses);
        Assert.Equal(expectedHits, metrics.Hits);
    }

    [Theory]
    [InlineData(10, 16)]
    [InlineData(16, 16)]
    [InlineData(1, 1)]
    public void TryGet_SampleIntervalNotAPowerOfTwo_TimesOneReadInTheNextPowerOfTwo(int interval, int timedEvery)
    {
        var metrics = Collector(nameof(TryGet_SampleIntervalNotAPowerOfTwo_TimesOneReadInTheNextPowerOfTwo), interval);
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, Metrics = metrics });
        var key = Key(nameof(TryGet_SampleIntervalNotAPowerOfTwo_TimesOneReadInTheNextPowerOfTwo));
        tier.Set(key, 1);
        for (var i = 0; i < 64; i++)
        {
            Assert.True(tier.TryGet<int>(key, out _));
        }

        var snapshot = metrics.GetSnapshot();
        Assert.Equal(64, snapshot.Hits);
        Assert.Equal(64 / timedEvery, snapshot.HitLatency.Count);
    }
}
