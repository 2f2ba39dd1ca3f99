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

    /// <summary>
    /// A set whose L2 write is done when a delete of the key runs to its end (L2, then L1) must not then put its value
    /// in L1: L2 holds nothing, and L1 would serve the deleted key until its TTL. The set's L1 write yields to the
    /// delete, and so would it to another set, or to a peer's invalidation (see CoherenceEdgeCaseTests).
    /// </summary>
    [Fact]
    public async Task SetAsync_ADeleteCompletesBetweenItsL2AndL1Writes_L1DoesNotResurrectTheKey()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.WriteHold = open;
        var setting = cache.SetAsync(key, "set").AsTask();
        await l2.WriteHeld.Task.WaitAsync(TimeSpan.FromSeconds(20)); // L2 holds "set"; L1 not written yet
        l2.WriteHold = null;
        await cache.DeleteAsync(key);
        open.SetResult();
        await setting.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.False(l1.TryGet<string>(key, out var local), $"L1 holds '{local}' after the delete completed");
        Assert.False((await cache.GetAsync<string>(key)).HasValue);

        // With nothing in between, a set lands in L1 as before.
        await cache.SetAsync(key, "again");
        Assert.True(l1.TryGet<string>(key, out var again) && again == "again");
    }

    /// <summary>With L1 the only tier, sets of one key racing each other always leave one of their values there (the
    /// yield of a set's L1 write to a newer write is for a set whose lower tiers were written first).</summary>
    [Fact]
    public async Task SetAsync_L1Only_RacingSetsOfOneKey_LeaveOneOfTheirValues()
    {
        var l1 = TierTestKit.Memory("L1");
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        await using var cache = new MultiTierCache(options);
        var key = TierTestKit.Key(this);
        for (var round = 0; round < 20; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < 100; i++)
                {
                    await cache.SetAsync(key, $"{t}:{i}");
                }
            })));

            Assert.True(l1.TryGet<string>(key, out var held) && held!.EndsWith(":99", StringComparison.Ordinal), $"round {round}: L1 holds '{held}'");
        }
    }
}
