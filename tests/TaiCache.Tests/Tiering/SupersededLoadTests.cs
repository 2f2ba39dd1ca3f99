using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A write of a key made while its read-through load runs is newer than whatever the factory read: the factory's value,
/// when it comes, is returned to the load's callers but not stored over that write.
/// </summary>
public sealed class SupersededLoadTests
{
    private static async Task<string> Held(MultiTierCache cache, FaultyTier l2, string key)
    {
        Assert.Equal((await l2.Inner.GetAsync<string>(key)).Value, (await cache.GetAsync<string>(key)).Value); // the tiers agree
        return (await cache.GetAsync<string>(key)).Value;
    }

    /// <summary>Starts a read-through load of the key whose factory has been called and returns only when released.</summary>
    private static async Task<(Task<string> Load, TaskCompletionSource<string> Release)> LoadHeldInTheFactoryAsync(MultiTierCache cache, string key)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var load = cache.GetOrSetAsync(key, _ =>
        {
            started.SetResult();
            return new ValueTask<string>(release.Task);
        }).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return (load, release);
    }

    [Fact]
    public async Task GetOrSetAsync_SetAsyncWhileTheFactoryRuns_TheSetIsKept()
    {
        var (cache, _, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var (load, release) = await LoadHeldInTheFactoryAsync(cache, key);
        await cache.SetAsync(key, "written");
        release.SetResult("loaded");

        Assert.Equal("loaded", await load); // the caller gets what it loaded
        Assert.Equal("written", await Held(cache, l2, key));
    }

    [Fact]
    public async Task GetOrSetAsync_PeersInvalidationWhileTheFactoryRuns_ThePeersWriteIsKept()
    {
        // A peer writes L2 and its invalidation removes the key from this instance's L1 (as CacheCoherence does).
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var (load, release) = await LoadHeldInTheFactoryAsync(cache, key);
        await l2.Inner.SetAsync(key, "peer's");
        l1.Remove(key);
        release.SetResult("loaded");

        Assert.Equal("loaded", await load);
        Assert.Equal("peer's", await Held(cache, l2, key));
    }

    [Fact]
    public async Task GetOrSetManyAsync_PeersInvalidationWhileTheFactoryRuns_ThePeersWriteIsKept()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = TierTestKit.KeysInDistinctStripes(l1, 2, this);
        var (key, other) = (keys[0], keys[1]);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var load = cache.GetOrSetManyAsync([key, other], async (missing, _) =>
        {
            started.SetResult();
            await release.Task;
            return (IReadOnlyDictionary<string, string>)missing.ToDictionary(k => k, _ => "loaded");
        }).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await l2.Inner.SetAsync(key, "peer's");
        l1.Remove(key);
        release.SetResult();

        Assert.Equal("loaded", (await load)[key]);
        Assert.Equal("peer's", await Held(cache, l2, key));
        Assert.Equal("loaded", await Held(cache, l2, other)); // the key nobody wrote is stored
    }

    [Fact]
    public async Task GetOrSetAsync_DeleteAsyncWhileTheFactoryRuns_TheKeyStaysRemoved()
    {
        var (cache, _, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var (load, release) = await LoadHeldInTheFactoryAsync(cache, key);
        await cache.DeleteAsync(key);
        release.SetResult("loaded");

        Assert.Equal("loaded", await load);
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryHandedOffAfterItsTimeout_DoesNotOverwriteASetMadeBeforeItFinished()
    {
        var (cache, _, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(50) };

        await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, _ => new ValueTask<string>(release.Task), options).AsTask());

        // A patient caller joins the load still running, so the test sees when it ends.
        var joined = cache.GetOrSetAsync(key, _ => new ValueTask<string>("unused"), new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromSeconds(60) }).AsTask();
        await cache.SetAsync(key, "written");
        release.SetResult("late");

        Assert.Equal("late", await joined.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("written", await Held(cache, l2, key));
    }

    [Fact]
    public async Task GetOrSetManyAsync_SetAsyncOfOneKeyWhileTheFactoryRuns_ThatKeyKeepsTheSet_TheOthersAreStored()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var pair = TierTestKit.KeysInDistinctStripes(l1, 2, this);
        var (written, loaded) = (pair[0], pair[1]);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var load = cache.GetOrSetManyAsync<string>([written, loaded], async (keys, _) =>
        {
            started.SetResult();
            await release.Task;
            return keys.ToDictionary(k => k, _ => "from-factory");
        }).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cache.SetManyAsync([new KeyValuePair<string, string>(written, "written")]);
        release.SetResult();

        var values = await load;
        Assert.Equal("from-factory", values[written]);
        Assert.Equal("written", await Held(cache, l2, written));
        Assert.Equal("from-factory", await Held(cache, l2, loaded));
    }
}
