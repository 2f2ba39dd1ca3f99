using TaiCache.Memcached;
using TaiCache.Metrics;
using TaiCache.Sqlite;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Sqlite;

namespace TaiCache.Tests.Metrics;

/// <summary>Every backend feeds the hit and miss latency histograms: the memory tier one read in the sample interval, the others every read.</summary>
public sealed class TierLatencyMetricsTests : IClassFixture<MemcachedServerFixture>
{
    private readonly MemcachedServerFixture _memcached;

    public TierLatencyMetricsTests(MemcachedServerFixture memcached) => _memcached = memcached;

    private static string Key(string test) => $"{nameof(TierLatencyMetricsTests)}:{test}:{Guid.NewGuid():N}";

    private static MetricsCollector Collector(string test, int sampleInterval = 1024) =>
        new($"{nameof(TierLatencyMetricsTests)}:{test}", "tier", null, new MetricsCollectorOptions { PublishToMeter = false, LatencySampleInterval = sampleInterval });

    [Fact]
    public void InMemoryTier_TimesOneReadInTheSampleInterval_HitsAndMissesSeparately()
    {
        var metrics = Collector(nameof(InMemoryTier_TimesOneReadInTheSampleInterval_HitsAndMissesSeparately), sampleInterval: 4);
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, Metrics = metrics });
        var key = Key(nameof(InMemoryTier_TimesOneReadInTheSampleInterval_HitsAndMissesSeparately));
        tier.Set(key, 1);
        ReadMany(tier, key, 40);
        ReadMany(tier, key + ":missing", 20);

        // Reads 4, 8, 12, ... of this thread are timed (not the cold first one): 10 of the 40 hits, then 5 of the 20 misses.
        var snapshot = metrics.GetSnapshot();
        Assert.Equal(40, snapshot.Hits);
        Assert.Equal(20, snapshot.Misses);
        Assert.Equal(10, snapshot.HitLatency.Count);
        Assert.Equal(5, snapshot.MissLatency.Count);
        Assert.True(snapshot.HitLatency.MaxMicroseconds < 1_000_000, "an in-memory hit timed at a second or more");
    }

    [Fact]
    public async Task MemcachedCache_TimesEveryRead_SingleAndBatch()
    {
        var metrics = Collector(nameof(MemcachedCache_TimesEveryRead_SingleAndBatch));
        await using var cache = new MemcachedCache(_memcached.Options(o => o.Metrics = metrics));
        var key = Key(nameof(MemcachedCache_TimesEveryRead_SingleAndBatch));
        await cache.SetAsync(key, "value");

        Assert.True((await cache.GetAsync<string>(key)).HasValue);
        Assert.False((await cache.GetAsync<string>(key + ":missing")).HasValue);
        Assert.Single(await cache.GetManyAsync<string>([key, key + ":missing-too"]));

        var snapshot = metrics.GetSnapshot();
        Assert.Equal(2, snapshot.HitLatency.Count);
        Assert.Equal(2, snapshot.MissLatency.Count);
        Assert.True(snapshot.HitLatency.P50Microseconds > 0, "a loopback round trip takes more than zero time");
    }

    [Fact]
    public async Task SqliteTier_TimesEveryRead()
    {
        var path = SqliteTestFiles.NewPath(nameof(SqliteTier_TimesEveryRead));
        try
        {
            var metrics = Collector(nameof(SqliteTier_TimesEveryRead));
            await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = path, Metrics = metrics });
            var key = Key(nameof(SqliteTier_TimesEveryRead));
            await tier.SetAsync(key, 42);
            for (var i = 0; i < 3; i++)
            {
                Assert.True((await tier.GetAsync<int>(key)).HasValue);
            }

            Assert.False((await tier.GetAsync<int>(key + ":missing")).HasValue);
            Assert.Single(await tier.GetManyAsync<int>([key, key + ":missing-too"]));

            var snapshot = metrics.GetSnapshot();
            Assert.Equal(4, snapshot.HitLatency.Count);
            Assert.Equal(2, snapshot.MissLatency.Count);
        }
        finally
        {
            SqliteTestFiles.Delete(path);
        }
    }

    private static void ReadMany(InMemoryTier tier, string key, int times)
    {
        for (var i = 0; i < times; i++)
        {
            tier.TryGet<int>(key, out _);
        }
    }
}
