using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A load superseded by a write is not stored over it; but a <c>GetOrSetAsync</c> that starts after the write returned
/// must not be handed that superseded load's older value either.
/// </summary>
public sealed class SupersededLoadEdgeCaseTests
{
    /// <summary>A cache with no memory L1: one remote tier (a memory tier behind a <see cref="FaultyTier"/>).</summary>
    private static (MultiTierCache Cache, FaultyTier L2) BuildWithoutL1()
    {
        var l2 = new FaultyTier(TierTestKit.Memory("L2"));
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l2);
    }

    [Fact]
    public async Task GetOrSetAsync_StartedAfterASetReturned_DoesNotJoinTheLoadTheSetSuperseded_GetsTheSetValue()
    {
        var (cache, _) = BuildWithoutL1();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // A load of the key runs its factory (it read the database before the write below).
        var first = cache.GetOrSetAsync(key, async ct =>
        {
            started.TrySetResult();
            await release.Task;
            return "v1";
        }).AsTask();
        await started.Task;

        // The key is set, and the set returns.
        await cache.SetAsync(key, "v2");

        // A read that starts after the set returned.
        var factoryRuns = 0;
        var later = cache.GetOrSetAsync(key, ct =>
        {
            Interlocked.Increment(ref factoryRuns);
            return ValueTask.FromResult("v3");
        }).AsTask();
        release.SetResult();
        await first;

        Assert.Equal("v2", (await cache.GetAsync<string>(key)).Value); // the set was kept in the tier
        Assert.Equal("v2", await later); // but the later read was given the superseded load's v1
    }

    [Fact]
    public async Task GetOrSetAsync_StartedAfterASetReturned_DoesNotJoinAHandedOffLoadTheSetSuperseded_GetsTheSetValue()
    {
        var (cache, _) = BuildWithoutL1();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(50) };

        // The factory outlives its timeout: the caller gets a CacheTimeoutException, the load stays in flight.
        var first = cache.GetOrSetAsync(key, async ct =>
        {
            await release.Task;
            return "v1";
        }, options).AsTask();
        await Assert.ThrowsAsync<CacheTimeoutException>(() => first);

        await cache.SetAsync(key, "v2");

        // Started after the set returned, with no timeout of its own: it waits for the old factory.
        var later = cache.GetOrSetAsync(key, ct => ValueTask.FromResult("v3")).AsTask();
        release.SetResult();

        Assert.Equal("v2", await later);
    }
}
