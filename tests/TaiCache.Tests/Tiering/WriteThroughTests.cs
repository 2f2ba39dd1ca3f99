using TaiCache.Tiering;
namespace TaiCache.Tests.Tiering;

public sealed class WriteThroughTests
{
    [Fact]
    public async Task SetAsync_AllTiersUp_EveryTierHoldsValue()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 42);
        Assert.True(l1.TryGet<int>(key, out var v1) && v1 == 42);
        Assert.Equal(42, (await l2.Inner.GetAsync<int>(key)).Value);
        Assert.Equal(42, (await l3!.Inner.GetAsync<int>(key)).Value);
    }

    [Fact]
    public async Task SetAsync_LowerTierRefuses_ThrowsNamingTierAndKey_AndUpperTierHoldsNoValue()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 0, withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "old");
        l3!.Down = true;

        var e = await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync(key, "new").AsTask());

        Assert.Equal("L3", e.TierName);
        Assert.Equal(2, e.TierIndex);
        Assert.Equal(key, e.Key);
        Assert.DoesNotContain(key, e.Message, StringComparison.Ordinal);
        Assert.False(l1.TryGet<string>(key, out _));
        Assert.Equal("old", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.Equal(0, l2.SetCalls - 1);
    }

    [Fact]
    public async Task SetAsync_BestEffort_LowerTierRefuses_SucceedsInOtherTiers()
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.BestEffortWrites = true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.Down = true;
        await cache.SetAsync(key, "v");
        Assert.True(l1.TryGet<string>(key, out var v) && v == "v");
    }

    [Fact]
    public async Task DeleteAsync_RemovesFromEveryTier()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 1);
        Assert.True(await cache.DeleteAsync(key));
        Assert.False(l1.TryGet<int>(key, out _));
        Assert.False((await l2.Inner.GetAsync<int>(key)).HasValue);
    }

    [Fact]
    public async Task SetManyAsync_LowerTierRefuses_ThrowsAndL1HoldsNone()
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 0);
        await using var scope = cache;
        var keys = Enumerable.Range(0, 5).Select(i => TierTestKit.Key(this) + i).ToArray();
        l2.Down = true;
        await Assert.ThrowsAsync<TierWriteException>(() => cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1))).AsTask());
        Assert.All(keys, k => Assert.False(l1.TryGet<int>(k, out _)));
    }

    [Fact]
    public async Task SetAsync_BadKey_NothingStored()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        await Assert.ThrowsAsync<InvalidCacheKeyException>(() => cache.SetAsync("bad\r\nkey", 1).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cache.SetAsync("k", 1, TimeSpan.Zero).AsTask());
        Assert.Equal(0, l2.Calls);
        Assert.Equal(0, l1.Count);
    }
}
