using Microsoft.Extensions.Time.Testing;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A factory's value, or a copy of a lower tier's, goes into a shared tier only where the key holds nothing: a write
/// another instance made while this one loaded (a slow factory, a slow lower tier) is not overwritten, and this
/// instance's L1 does not take the older value either. Without coherence nothing else would catch it.
/// </summary>
public sealed class YieldingFillTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task GetOrSetAsync_PeerWritesWhileTheFactoryRuns_FactoryValueYieldsInL2AndStaysOutOfL1()
    {
        var shared = TierTestKit.Memory("shared");
        await using var a = Instance(new FaultyTier(shared));
        await using var b = Instance(new FaultyTier(shared));
        var key = TierTestKit.Key(this);

        var (load, release) = StartHeldLoad(a, key, out var started);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await b.SetAsync(key, "b's write");
        release.SetResult();

        Assert.Equal("a's load", await load.WaitAsync(TimeSpan.FromSeconds(30))); // its callers still get what they asked for
        Assert.Equal("b's write", (await shared.GetAsync<string>(key)).Value);
        Assert.Equal("b's write", (await a.GetAsync<string>(key)).Value); // a's L1 did not keep its load
    }

    [Fact]
    public async Task GetOrSetAsync_OverRedis_PeerWritesWhileTheFactoryRuns_RedisKeepsThePeersValue()
    {
        var prefix = $"yield:{Guid.NewGuid():N}:";
        await using var a = Instance(await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix }));
        await using var b = Instance(await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix }));
        var key = TierTestKit.Key(this);

        var (load, release) = StartHeldLoad(a, key, out var started);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await b.SetAsync(key, "b's write");
        release.SetResult();

        Assert.Equal("a's load", await load.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("b's write", (await b.Tiers[1].GetAsync<string>(key)).Value);
        Assert.Equal("b's write", (await a.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetOrSetAsync_KeyAbsentEverywhere_FactoryValueIsStoredInL2AndL1()
    {
        var shared = TierTestKit.Memory("shared");
        var l2 = new FaultyTier(shared);
        await using var a = Instance(l2);
        var key = TierTestKit.Key(this);

        Assert.Equal("loaded", await a.GetOrSetAsync(key, _ => ValueTask.FromResult("loaded")));

        Assert.Equal("loaded", (await shared.GetAsync<string>(key)).Value);
        Assert.True(((InMemoryTier)a.Tiers[0]).TryGet<string>(key, out var inL1));
        Assert.Equal("loaded", inL1);
    }

    [Fact]
    public async Task GetOrSetAsync_L2HoldsAValueThisCacheCannotRead_FactoryValueReplacesIt()
    {
        var shared = TierTestKit.Memory("shared");
        await using var a = Instance(new FaultyTier(shared));
        var key = TierTestKit.Key(this);
        await shared.SetAsync(key, 42); // another type: read as a miss

        Assert.Equal("loaded", await a.GetOrSetAsync(key, _ => ValueTask.FromResult("loaded")));

        Assert.Equal("loaded", (await shared.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetAsync_PeerWritesL2WhileAReadGoesOnToL3_CopyFromL3YieldsInL2AndStaysOutOfL1()
    {
        var shared = TierTestKit.Memory("shared");
        var heldL2 = new FaultyTier(shared) { GetHold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var l3 = TierTestKit.Memory("L3");
        await using var a = Instance(heldL2, l3);
        await using var b = Instance(new FaultyTier(shared));
        var key = TierTestKit.Key(this);
        await l3.SetAsync(key, "old, in a's L3");

        // a's read has missed L2 and is held there; b writes L2; a then finds the old value in its L3.
        var read = a.GetAsync<string>(key).AsTask();
        await heldL2.GetHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await b.SetAsync(key, "b's write");
        heldL2.GetHold!.SetResult();

        Assert.Equal("old, in a's L3", (await read.WaitAsync(TimeSpan.FromSeconds(30))).Value);
        Assert.Equal("b's write", (await shared.GetAsync<string>(key)).Value);
        Assert.Equal("b's write", (await a.GetAsync<string>(key)).Value); // a's L1 did not take the copy
    }

    [Fact]
    public async Task GetOrSetManyAsync_PeerWritesOneKeyWhileTheBatchFactoryRuns_ThatKeyYields_TheOthersAreStored()
    {
        var shared = TierTestKit.Memory("shared");
        await using var a = Instance(new FaultyTier(shared));
        await using var b = Instance(new FaultyTier(shared));
        var key = TierTestKit.Key(this);
        string[] keys = [key + ":0", key + ":1", key + ":2"];
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var load = a.GetOrSetManyAsync(keys, async (missing, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
            return (IReadOnlyDictionary<string, string>)missing.ToDictionary(k => k, k => "a's load of " + k);
        }).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await b.SetAsync(keys[1], "b's write");
        release.SetResult();

        Assert.Equal("a's load of " + keys[1], (await load.WaitAsync(TimeSpan.FromSeconds(30)))[keys[1]]);
        Assert.Equal("b's write", (await shared.GetAsync<string>(keys[1])).Value);
        Assert.Equal("a's load of " + keys[0], (await shared.GetAsync<string>(keys[0])).Value);
        Assert.Equal("a's load of " + keys[2], (await shared.GetAsync<string>(keys[2])).Value);
        var l1 = (InMemoryTier)a.Tiers[0];
        Assert.False(l1.TryGet<string>(keys[1], out _)); // a's L1 did not keep the value that yielded
        Assert.True(l1.TryGet<string>(keys[0], out _));
    }

    [Fact]
    public async Task GetManyAsync_PeerWritesL2WhileABatchGoesOnToL3_ThatKeysCopyYields_TheOthersAreCopied()
    {
        var shared = TierTestKit.Memory("shared");
        var heldL2 = new FaultyTier(shared) { ReadHold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var l3 = TierTestKit.Memory("L3");
        await using var a = Instance(heldL2, l3);
        await using var b = Instance(new FaultyTier(shared));
        var key = TierTestKit.Key(this);
        string[] keys = [key + ":0", key + ":1"];
        foreach (var k in keys)
        {
            await l3.SetAsync(k, "old, in a's L3");
        }

        var read = a.GetManyAsync<string>(keys).AsTask();
        await heldL2.ReadHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await b.SetAsync(keys[1], "b's write");
        heldL2.ReadHold!.SetResult();

        Assert.All((await read.WaitAsync(TimeSpan.FromSeconds(30))).Values, v => Assert.Equal("old, in a's L3", v));
        Assert.Equal("b's write", (await shared.GetAsync<string>(keys[1])).Value);
        Assert.Equal("old, in a's L3", (await shared.GetAsync<string>(keys[0])).Value);
        Assert.Equal("b's write", (await a.GetAsync<string>(keys[1])).Value); // a's L1 did not take that copy
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the new expiry follows the load that yielded: it does not write the load again over b's value
    public async Task WriteBehind_PeerWritesBeforeTheFlusherWritesAFactoryValue_ItYields_AndL1DropsIt(bool expireWhileItIsWritten)
    {
        var shared = TierTestKit.Memory("shared");
        var gated = new FaultyTier(shared);
        await using var a = WriteBehindOver(gated);
        await using var b = Instance(new FaultyTier(shared));
        var key = TierTestKit.Key(this);
        var gate = await HoldLoadsWriteAsync(a, gated, key);
        await b.SetAsync(key, "b's write");
        if (expireWhileItIsWritten)
        {
            Assert.True(await a.ExpireAsync(key, TimeSpan.FromMinutes(10)));
        }

        gate.SetResult();
        Assert.True((await a.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        Assert.Equal("b's write", (await shared.GetAsync<string>(key)).Value);
        Assert.Equal("b's write", (await a.GetAsync<string>(key)).Value); // a's L1 dropped its load
    }

    [Fact]
    public async Task WriteBehind_ExpireWhileAFactoryValueIsBeingWritten_TheValueLandsAndTakesTheNewTtl()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var shared = TierTestKit.Memory("shared", clock);
        var gated = new FaultyTier(shared);
        await using var a = WriteBehindOver(gated);
        var key = TierTestKit.Key(this);
        var gate = await HoldLoadsWriteAsync(a, gated, key); // a's load, no TTL
        Assert.True(await a.ExpireAsync(key, TimeSpan.FromMinutes(10))); // L2 does not hold it yet
        gate.SetResult();
        Assert.True((await a.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        Assert.Equal("a's load", (await shared.GetAsync<string>(key)).Value);
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.False((await shared.GetAsync<string>(key)).HasValue); // the expiry was applied after the value landed
    }

    /// <summary>A write-behind cache: L1 over <paramref name="below"/>.</summary>
    private static MultiTierCache WriteBehindOver(ICacheOps below)
    {
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(below);
        return new MultiTierCache(options);
    }

    /// <summary>
    /// Loads "a's load" through <paramref name="cache"/> and holds the flusher's write of it at <paramref name="gated"/>
    /// (the load's own read passes: it is not held); other calls pass again. Returns the gate that releases the write.
    /// </summary>
    private static async Task<TaskCompletionSource> HoldLoadsWriteAsync(MultiTierCache cache, FaultyTier gated, string key)
    {
        var (gate, reached) = gated.HoldCallsOn(key);
        Assert.Equal("a's load", await cache.GetOrSetAsync(key, _ => ValueTask.FromResult("a's load")));
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        gated.Gate = null;
        return gate;
    }

    private static MultiTierCache Instance(params ICacheOps[] below)
    {
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(TierTestKit.Memory("L1"));
        foreach (var tier in below)
        {
            options.Tiers.Add(tier);
        }

        return new MultiTierCache(options);
    }

    /// <summary>Starts a get-or-set on <paramref name="cache"/> whose factory waits for the returned gate.</summary>
    private static (Task<string> Load, TaskCompletionSource Release) StartHeldLoad(MultiTierCache cache, string key, out TaskCompletionSource started)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        started = entered;
        var load = cache.GetOrSetAsync(key, async ct =>
        {
            entered.TrySetResult();
            await release.Task.WaitAsync(ct);
            return "a's load";
        }).AsTask();
        return (load, release);
    }
}
