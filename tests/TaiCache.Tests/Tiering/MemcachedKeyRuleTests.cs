using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering.Warming;
using TaiCache.Tiering;
using TaiCache.Tiering.Warming;

namespace TaiCache.Tests.Tiering;

/// <summary><see cref="CacheWarmer"/> and <see cref="MultiTierCache"/> over memcached, whose key rules are stricter than the defaults (no spaces).</summary>
public sealed class MemcachedKeyRuleTests(MemcachedServerFixture memcached) : IClassFixture<MemcachedServerFixture>
{
    /// <summary>A key list with a key memcached refuses (a space) is refused before anything is loaded.</summary>
    [Fact]
    public async Task Warm_KeyList_KeyTheCacheRefuses_ThrowsBeforeLoadingAnything()
    {
        await using var cache = new MemcachedCache(memcached.Options(o => o.KeyPrefix = $"keyrules-{Guid.NewGuid():N}-"));
        var called = 0;
        var keys = CacheWarmerEdgeCaseTests.Keys(3);
        keys.Add("has space");
        var ex = await Record.ExceptionAsync(() => new CacheWarmer(cache).WarmAsync(keys, (k, _) =>
        {
            Interlocked.Increment(ref called);
            return ValueTask.FromResult(1);
        }));
        Assert.IsType<InvalidCacheKeyException>(ex);
        Assert.Equal(0, called);
    }

    /// <summary>In a stream, a pair whose key memcached refuses fails alone: the rest of its batch is stored.</summary>
    [Fact]
    public async Task Warm_Stream_KeyTheCacheRefuses_OnlyThatPairFails_RestOfBatchStored()
    {
        await using var cache = new MemcachedCache(memcached.Options(o => o.KeyPrefix = $"keyrules-{Guid.NewGuid():N}-"));
        var keys = CacheWarmerEdgeCaseTests.Keys(4);
        var summary = await new CacheWarmer(cache).WarmAsync(CacheWarmerEdgeCaseTests.Stream(keys.Append("has space")));
        Assert.Equal((4, 1), (summary.Loaded, summary.Failed));
        Assert.Equal("has space", summary.Failures.Single().Key);
        Assert.Equal(keys[0], (await cache.GetAsync<string>(keys[0])).Value);
    }

    /// <summary>
    /// A multi-tier cache over memcached refuses a key with a space before any tier is written: under write-behind the
    /// set would otherwise be acknowledged from L1 and fail later in the flusher (its value in L1, never in memcached).
    /// </summary>
    [Fact]
    public async Task MultiTierCache_OverMemcached_KeyWithASpace_IsRefusedBeforeAnyTierIsWritten()
    {
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000 });
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind };
        options.Tiers.Add(l1);
        options.Tiers.Add(new MemcachedCache(memcached.Options(o => o.KeyPrefix = $"keyrules-{Guid.NewGuid():N}-")));
        await using var cache = new MultiTierCache(options);
        var calls = 0;

        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.SetAsync("has space", 1));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.SetManyAsync([KeyValuePair.Create("ok", 1), KeyValuePair.Create("has space", 2)]));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.GetOrSetAsync("has space", _ => ValueTask.FromResult(++calls)));

        Assert.Equal(0, calls);
        Assert.False(l1.TryGet<int>("has space", out _));
        Assert.False(l1.TryGet<int>("ok", out _));
        var flushed = await cache.FlushAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(flushed.UnwrittenKeys);
    }
}
