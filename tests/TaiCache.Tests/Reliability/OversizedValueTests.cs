using System.Collections.Concurrent;
using TaiCache.Memcached;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Redis;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// A value over <c>CacheSerializationOptions.MaxValueBytes</c> is refused before it is sent: every reader refuses such a
/// value, so storing it (a compressible one squeezes under any server limit) would leave a key no read can return.
/// </summary>
public sealed class OversizedValueTests(RedisServerFixture redis, MemcachedServerFixture memcached)
    : IClassFixture<RedisServerFixture>, IClassFixture<MemcachedServerFixture>
{
    private const int Limit = 4096;
    private static readonly byte[] Oversized = new byte[Limit * 4]; // zeros: LZ4 makes this a few dozen bytes
    private readonly RedisServerFixture _redis = redis;
    private readonly MemcachedServerFixture _memcached = memcached;

    [Fact]
    public async Task Redis_SetOverLimit_ThrowsTooLarge_NamingKeyAndLimit_AndOldValueStays()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(OversizedValueTests)), o => o.Serialization.MaxValueBytes = Limit);
        await cache.SetAsync("k", new byte[] { 1, 2, 3 });

        var ex = await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await cache.SetAsync("k", Oversized));
        Assert.Equal("k", ex.Key);
        Assert.Contains("MaxValueBytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Limit.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await cache.SetManyAsync([KeyValuePair.Create("a", new byte[] { 9 }), KeyValuePair.Create("k", Oversized)]));

        Assert.Equal(new byte[] { 1, 2, 3 }, (await cache.GetAsync<byte[]>("k")).Value);
        Assert.False((await cache.GetAsync<byte[]>("a")).HasValue, "a batch with an oversized value must not be half-written");
    }

    [Fact]
    public async Task Memcached_SetOverLimit_ThrowsTooLarge_AndOldValueStays()
    {
        await using var cache = new MemcachedCache(_memcached.Options(o =>
        {
            o.KeyPrefix = $"oversize-{Guid.NewGuid():N}:";
            o.Serialization.MaxValueBytes = Limit;
        }));
        await cache.SetAsync("k", "old");

        var ex = await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await cache.SetAsync("k", Oversized));
        Assert.Equal("k", ex.Key);

        Assert.Equal("old", (await cache.GetAsync<string>("k")).Value);
    }

    [Fact]
    public async Task WriteBehind_OneOversizedValueInABatch_IsDeadLetteredAtOnce_ItsBatchMatesAreWritten()
    {
        await using var redis = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(OversizedValueTests)), o => o.Serialization.MaxValueBytes = Limit);
        var l2 = new FaultyTier(redis) { Gate = new TaskCompletionSource() };
        var letters = new ConcurrentQueue<WriteBehindDeadLetter>();
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind, OwnsTiers = false };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(l2);
        options.WriteBehind.MaxAttempts = 5;
        options.WriteBehind.OnDeadLetter = letters.Enqueue;
        await using var cache = new MultiTierCache(options);

        // Hold the flusher's first write so the rest queue up and go down as one batch.
        await cache.SetAsync("first", new byte[] { 0 });
        await TierTestKit.Eventually(() => l2.Calls >= 1);
        for (var i = 0; i < 5; i++)
        {
            await cache.SetAsync($"k{i}", i == 2 ? Oversized : [(byte)i]);
        }

        // The flush counts what is given up on while it waits, so it starts before the gate opens (opening it can run the
        // flusher, and the dead-lettering, inline).
        var flushing = cache.FlushAsync(TimeSpan.FromSeconds(20));
        l2.Gate.SetResult();
        var flush = await flushing;

        Assert.True(flush.Completed);
        Assert.Equal(1, flush.DeadLettered);
        var letter = Assert.Single(letters);
        Assert.Equal("k2", letter.Key);
        Assert.Equal(1, letter.Attempts); // refused for what it is: no retry can change that
        Assert.Contains("MaxValueBytes", letter.Error, StringComparison.Ordinal);
        foreach (var i in new[] { 0, 1, 3, 4 })
        {
            Assert.Equal(new[] { (byte)i }, (await redis.GetAsync<byte[]>($"k{i}")).Value);
        }

        Assert.False((await redis.GetAsync<byte[]>("k2")).HasValue);
    }
}
