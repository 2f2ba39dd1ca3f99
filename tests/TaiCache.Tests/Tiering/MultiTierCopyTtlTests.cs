using TaiCache.Memcached;
using TaiCache.Redis;
using TaiCache.Sqlite;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A copy of a lower tier's hit never outlives the value where it was found: the writer records the absolute expiry in
/// the envelope, and read-through caps the copies' TTLs with what is left (here the reader's own TTL is 10 minutes).
/// </summary>
public sealed class MultiTierCopyTtlTests(RedisServerFixture redis, MemcachedServerFixture memcached)
    : IClassFixture<RedisServerFixture>, IClassFixture<MemcachedServerFixture>
{
    private static readonly TimeSpan ReaderTtl = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan WriterTtl = TimeSpan.FromSeconds(30);

    private static string Prefix(string test) => $"{nameof(MultiTierCopyTtlTests)}:{test}:{Guid.NewGuid():N}:";

    private static MultiTierCache Cache(InMemoryTier l1, params ICacheOps[] lower)
    {
        var options = new MultiTierCacheOptions { DefaultEntryOptions = new MultiTierEntryOptions { Ttl = ReaderTtl } };
        options.Tiers.Add(l1);
        foreach (var tier in lower)
        {
            options.Tiers.Add(tier);
        }

        return new MultiTierCache(options);
    }

    private static InMemoryTier L1() => new(new InMemoryTierOptions { MaximumSize = 1_000 });

    private static void AssertCappedByWriter(InMemoryTier l1, string key)
    {
        var remaining = l1.GetRemainingTtl(key);
        Assert.NotNull(remaining);
        Assert.True(remaining <= WriterTtl, $"the L1 copy lives {remaining}, longer than the {WriterTtl} the value had left in L2");
        Assert.True(remaining > WriterTtl - TimeSpan.FromSeconds(20), $"the L1 copy lives only {remaining}");
    }

    [Fact]
    public async Task MemoryTierBelowL1_ReportsWhenItsEntriesExpire_SoACopyIsCapped()
    {
        // An InMemoryTier as a lower tier, read as any ICacheOps is (a test double, an adapter over it).
        var below = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000 });
        await below.SetAsync("single", "v", WriterTtl);
        await below.SetAsync("forever", "v");
        var hit = await below.GetAsync<string>("single");
        Assert.InRange(hit.ExpiresAtUnixMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), (long)WriterTtl.TotalMilliseconds - 5_000, (long)WriterTtl.TotalMilliseconds);
        Assert.Equal(0, (await below.GetAsync<string>("forever")).ExpiresAtUnixMs);

        var behindL1 = L1();
        await using var behind = Cache(behindL1, new FaultyTier(below));
        Assert.Equal("v", (await behind.GetAsync<string>("single")).Value);

        AssertCappedByWriter(behindL1, "single");
    }

    [Fact]
    public async Task Redis_AnotherInstanceWroteWithAShortTtl_ReadThroughCopyIsCapped_SingleAndBatch()
    {
        var prefix = Prefix(nameof(Redis_AnotherInstanceWroteWithAShortTtl_ReadThroughCopyIsCapped_SingleAndBatch));
        await using var writerL2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
        await using var readerL2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
        var writerL1 = L1();
        var readerL1 = L1();
        await using var writer = Cache(writerL1, writerL2);
        await using var reader = Cache(readerL1, readerL2);
        var shortLived = new MultiTierEntryOptions { Ttl = WriterTtl };
        await writer.SetAsync("single", "v", shortLived);
        await writer.SetManyAsync([KeyValuePair.Create("batch1", "v"), KeyValuePair.Create("batch2", "v")], WriterTtl);
        await writer.SetAsync("long", "v", new MultiTierEntryOptions { Ttl = TimeSpan.FromHours(1) });
        await writer.SetAsync("forever", "v", new MultiTierEntryOptions());

        Assert.Equal("v", (await reader.GetAsync<string>("single")).Value);
        Assert.Equal(2, (await reader.GetManyAsync<string>(["batch1", "batch2"])).Count);
        Assert.Equal("v", (await reader.GetAsync<string>("long")).Value);
        Assert.Equal("v", (await reader.GetAsync<string>("forever")).Value);

        AssertCappedByWriter(readerL1, "single");
        AssertCappedByWriter(readerL1, "batch1");
        AssertCappedByWriter(readerL1, "batch2");

        // A value with more time left than the reader's TTL, or none, keeps the reader's TTL.
        Assert.True(readerL1.GetRemainingTtl("long") > WriterTtl * 2);
        Assert.True(readerL1.GetRemainingTtl("forever") > WriterTtl * 2);
    }

    [Fact]
    public async Task Memcached_AnotherInstanceWroteWithAShortTtl_ReadThroughCopyIsCapped_SingleAndBatch()
    {
        var prefix = $"copyttl-{Guid.NewGuid():N}-";
        await using var writerL2 = new MemcachedCache(memcached.Options(o => o.KeyPrefix = prefix));
        await using var readerL2 = new MemcachedCache(memcached.Options(o => o.KeyPrefix = prefix));
        var readerL1 = L1();
        await using var writer = Cache(L1(), writerL2);
        await using var reader = Cache(readerL1, readerL2);
        await writer.SetAsync("single", "v", new MultiTierEntryOptions { Ttl = WriterTtl });
        await writer.SetManyAsync([KeyValuePair.Create("batch1", "v"), KeyValuePair.Create("batch2", "v")], WriterTtl);

        Assert.Equal("v", (await reader.GetAsync<string>("single")).Value);
        Assert.Equal(2, (await reader.GetManyAsync<string>(["batch1", "batch2", "absent"])).Count);

        AssertCappedByWriter(readerL1, "single");
        AssertCappedByWriter(readerL1, "batch1");
        AssertCappedByWriter(readerL1, "batch2");
    }

    [Fact]
    public async Task Sqlite_ValuesFoundInL3_CopiesIntoRedisAndL1KeepTheirRemainingTtl_SingleAndBatch()
    {
        var prefix = Prefix(nameof(Sqlite_ValuesFoundInL3_CopiesIntoRedisAndL1KeepTheirRemainingTtl_SingleAndBatch));
        var path = SqliteTestFiles.NewPath(nameof(Sqlite_ValuesFoundInL3_CopiesIntoRedisAndL1KeepTheirRemainingTtl_SingleAndBatch));
        try
        {
            await using var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
            await using var l3 = new SqliteTier(new SqliteTierOptions { FilePath = path });
            var l1 = L1();
            await using var cache = Cache(l1, l2, l3);
            await l3.SetAsync("from-disk", "v", WriterTtl);
            await l3.SetManyAsync([KeyValuePair.Create("disk-batch1", "v"), KeyValuePair.Create("disk-batch2", "v")], WriterTtl);

            Assert.Equal("v", (await cache.GetAsync<string>("from-disk")).Value);
            Assert.Equal(2, (await cache.GetManyAsync<string>(["disk-batch1", "disk-batch2"])).Count);

            foreach (var key in new[] { "from-disk", "disk-batch1", "disk-batch2" })
            {
                AssertCappedByWriter(l1, key);
                var redisTtl = await l2.Multiplexer.GetDatabase().KeyTimeToLiveAsync(prefix + key);
                Assert.NotNull(redisTtl);
                Assert.True(redisTtl <= WriterTtl, $"the Redis copy of {key} lives {redisTtl}, longer than the value had left in SQLite");
            }
        }
        finally
        {
            SqliteTestFiles.Delete(path);
        }
    }

    [Fact]
    public async Task ExpireAsync_OnAnotherInstance_ShortensWhatTheReadersCopyIsCappedBy_RedisMemcachedSqlite()
    {
        var prefix = Prefix(nameof(ExpireAsync_OnAnotherInstance_ShortensWhatTheReadersCopyIsCappedBy_RedisMemcachedSqlite));
        var path = SqliteTestFiles.NewPath(nameof(ExpireAsync_OnAnotherInstance_ShortensWhatTheReadersCopyIsCappedBy_RedisMemcachedSqlite));
        try
        {
            var memcachedPrefix = $"expire-{Guid.NewGuid():N}-";
            (Func<ICacheOps> Make, string Name)[] backends =
            [
                (() => RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix }).GetAwaiter().GetResult(), "redis"),
                (() => new MemcachedCache(memcached.Options(o => o.KeyPrefix = memcachedPrefix)), "memcached"),
                (() => new SqliteTier(new SqliteTierOptions { FilePath = path }), "sqlite"),
            ];
            foreach (var (make, name) in backends)
            {
                await using var writerL2 = make();
                await using var readerL2 = make();
                var readerL1 = L1();
                await using var writer = Cache(L1(), writerL2);
                await using var reader = Cache(readerL1, readerL2);
                await writer.SetAsync(name, "v", new MultiTierEntryOptions { Ttl = TimeSpan.FromHours(1) });
                Assert.True(await writer.ExpireAsync(name, WriterTtl));

                Assert.Equal("v", (await reader.GetAsync<string>(name)).Value);
                AssertCappedByWriter(readerL1, name);
            }
        }
        finally
        {
            SqliteTestFiles.Delete(path);
        }
    }
}
