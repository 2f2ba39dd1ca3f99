using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Eager refresh over a real Redis L2 (a fake clock for the cache, so the recorded expiry ages without waiting): the
/// L2 hit late in its TTL triggers the refresh, whose value replaces the old one in Redis with a full TTL, as another
/// client reading the key sees; a load's value would only have filled a key Redis did not hold.
/// </summary>
public sealed class EagerRefreshRedisTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task L2HitLateInItsTtl_RefreshReplacesTheValueInRedis_WithAFullTtl()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var prefix = $"{nameof(EagerRefreshRedisTests)}:{Guid.NewGuid():N}:";
        await using var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, TimeProvider = time });
        var l1 = TierTestKit.Memory("L1", time);
        var options = new MultiTierCacheOptions { TimeProvider = time, OwnsTiers = false };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        await using var cache = new MultiTierCache(options);
        var entry = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(10), LocalTtl = TimeSpan.FromMinutes(1), EagerRefreshThreshold = 0.75 };
        var calls = 0;
        ValueTask<string> Load(CancellationToken _) => ValueTask.FromResult("v" + Interlocked.Increment(ref calls));

        Assert.Equal("v1", await cache.GetOrSetAsync("product:1", Load, entry));
        time.Advance(TimeSpan.FromMinutes(8)); // the L1 copy is gone; Redis's has 2 of its 10 minutes left (recorded)
        Assert.Equal("v1", await cache.GetOrSetAsync("product:1", Load, entry));

        await using var other = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await using var reader = new RedisCache(other, new RedisCacheOptions { KeyPrefix = prefix, TimeProvider = time });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await reader.GetAsync<string>("product:1")).Value != "v2")
        {
            Assert.True(DateTime.UtcNow < deadline, "the refresh did not reach Redis");
            await Task.Delay(10);
        }

        var stored = await reader.GetAsync<string>("product:1");
        Assert.InRange(stored.ExpiresAtUnixMs - time.GetUtcNow().ToUnixTimeMilliseconds(), TimeSpan.FromMinutes(9.9).TotalMilliseconds, TimeSpan.FromMinutes(10).TotalMilliseconds);
        var serverTtl = await other.GetDatabase().KeyTimeToLiveAsync(prefix + "product:1");
        Assert.InRange(serverTtl!.Value, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10));
        Assert.Equal(2, calls);
        Assert.True(l1.TryGet<string>("product:1", out var local) && local == "v2");
    }

    [Fact]
    public async Task Batch_RedisHitsLateInTheirTtl_OneFactoryCallReplacesThemInRedis()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var prefix = $"{nameof(EagerRefreshRedisTests)}:{Guid.NewGuid():N}:";
        await using var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, TimeProvider = time });
        var options = new MultiTierCacheOptions { TimeProvider = time, OwnsTiers = false };
        options.Tiers.Add(TierTestKit.Memory("L1", time));
        options.Tiers.Add(l2);
        await using var cache = new MultiTierCache(options);
        var entry = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(10), LocalTtl = TimeSpan.FromMinutes(1), EagerRefreshThreshold = 0.75 };
        var calls = new System.Collections.Concurrent.ConcurrentQueue<string[]>();
        ValueTask<IReadOnlyDictionary<string, string>> Load(IReadOnlyList<string> keys, CancellationToken _)
        {
            calls.Enqueue([.. keys]);
            var n = calls.Count;
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, k => $"{k}@{n}"));
        }

        string[] keys = ["p:1", "p:2", "p:3"];
        await cache.GetOrSetManyAsync(keys, Load, entry);
        time.Advance(TimeSpan.FromMinutes(8)); // L1 copies gone; Redis's have 2 of 10 minutes left
        var read = await cache.GetOrSetManyAsync(keys, Load, entry);
        Assert.All(keys, k => Assert.Equal($"{k}@1", read[k]));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await l2.GetManyAsync<string>(keys)).Values.Any(v => !v.EndsWith("@2", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the batch refresh did not reach Redis");
            await Task.Delay(10);
        }

        Assert.Equal(2, calls.Count);
        Assert.Equal(keys, calls.Last().Order());
        await using var other = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var serverTtl = await other.GetDatabase().KeyTimeToLiveAsync(prefix + "p:2");
        Assert.InRange(serverTtl!.Value, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10));
    }
}
