using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>A value held under another type is a miss in every tier, L1 included, and never throws out of the call.</summary>
public sealed class MultiTierWrongTypeTests
{
    [Fact]
    public async Task GetAsync_L1HoldsAnotherType_MissFromTheValueTask_LikeALowerTier()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 5);
        Assert.True(l1.TryGet<int>(key, out _));

        // Not thrown out of the call (it used to be, synchronously): the ValueTask answers, with a miss.
        var fromL1 = cache.GetAsync<string>(key);
        Assert.False((await fromL1).HasValue);
        Assert.False((await cache.GetAsync<string>(key, options: null)).HasValue);

        // The same as when only the tier below holds the int.
        l1.Remove(key);
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
        Assert.Equal(5, (await l2.Inner.GetAsync<int>(key)).Value);
    }

    [Fact]
    public async Task GetOrSetAsync_L1HoldsAnotherType_LoadsAndReplacesTheL1Copy()
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 5);
        var calls = 0;

        var value = await cache.GetOrSetAsync(key, _ =>
        {
            calls++;
            return ValueTask.FromResult("loaded");
        });

        Assert.Equal("loaded", value);
        Assert.Equal(1, calls);
        Assert.True(l1.TryGet<string>(key, out var local));
        Assert.Equal("loaded", local);
    }

    [Fact]
    public async Task GetManyAsync_L1HoldsAnotherType_KeyMissing()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 5);
        await cache.SetAsync(key + ":s", "s");

        var found = await cache.GetManyAsync<string>([key, key + ":s"]);

        Assert.False(found.ContainsKey(key));
        Assert.Equal("s", found[key + ":s"]);
    }
}
