using TaiCache.Memcached;
using TaiCache.Sqlite;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A reachable tier that refuses a write's data (memcached: over its item size) must not keep the older value, or the
/// next read finds it there and copies it back into L1 while SQLite below holds the new one.
/// </summary>
public sealed class WriteThroughRefusalTests(MemcachedServerFixture memcached) : IClassFixture<MemcachedServerFixture>
{
    [Fact]
    public async Task ValueTooLargeForMemcached_OlderValueIsRemovedThere_NextReadGetsTheNewValueFromSqlite_SingleAndBatch()
    {
        var path = SqliteTestFiles.NewPath(nameof(WriteThroughRefusalTests));
        try
        {
            var l1 = TierTestKit.Memory("L1");
            var options = new MultiTierCacheOptions();
            options.Tiers.Add(l1);
            options.Tiers.Add(new MemcachedCache(memcached.Options(o =>
            {
                o.KeyPrefix = $"refusal-{Guid.NewGuid():N}-";
                o.MaxItemBytes = 4096;
            })));
            options.Tiers.Add(new SqliteTier(new SqliteTierOptions { FilePath = path }));
            await using var cache = new MultiTierCache(options);
            var incompressible = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8_000));

            await cache.SetAsync("single", "old");
            var single = await Assert.ThrowsAsync<TierWriteException>(async () => await cache.SetAsync("single", incompressible));
            Assert.IsType<CacheValueTooLargeException>(single.InnerException);
            Assert.Equal(incompressible, (await cache.GetAsync<string>("single")).Value);

            await cache.SetManyAsync([KeyValuePair.Create("a", "old"), KeyValuePair.Create("b", "old")]);
            var batch = await Assert.ThrowsAsync<TierWriteException>(async () => await cache.SetManyAsync([KeyValuePair.Create("a", "new"), KeyValuePair.Create("b", incompressible)]));
            Assert.IsType<CacheValueTooLargeException>(batch.InnerException);
            Assert.Equal("b", batch.Key); // the item memcached refused, not the batch's first
            l1.Remove("a");
            Assert.Equal("new", (await cache.GetAsync<string>("a")).Value);
        }
        finally
        {
            SqliteTestFiles.Delete(path);
        }
    }
}
