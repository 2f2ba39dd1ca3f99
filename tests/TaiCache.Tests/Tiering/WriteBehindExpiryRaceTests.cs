using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>Write-behind expiry retries against newer writes, passed deadlines and many queued expiries (from a review of the feature).</summary>
public sealed class WriteBehindExpiryRaceTests
{
    private static (FakeTimeProvider Time, ExpireControlTier L2, MultiTierCache Cache) Build(Action<MultiTierCacheOptions>? configure = null)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new ExpireControlTier(TierTestKit.Memory("L2", time));
        return (time, l2, Cache(TierTestKit.Memory("L1", time), l2, time, configure));
    }

    /// <summary>Starts an ExpireAsync whose L2 call is held at the gate and will fail when released; returns once L2 has it.</summary>
    private static async Task<Task<bool>> HoldFailingExpireAsync(MultiTierCache cache, ExpireControlTier l2, string key, TimeSpan ttl)
    {
        l2.ExpireGate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.FailExpire = true;
        var expire = cache.ExpireAsync(key, ttl).AsTask();
        await l2.ExpireEntered.Task;
        return expire;
    }

    private static MultiTierCache Cache(ICacheOps l1, ICacheOps l2, TimeProvider time, Action<MultiTierCacheOptions>? configure = null)
    {
        var options = new MultiTierCacheOptions { TimeProvider = time, WriteStrategy = WriteStrategy.WriteBehind };
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        configure?.Invoke(options);
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return new MultiTierCache(options);
    }

    // An ExpireAsync whose L2 call fails after a newer SetAsync reached L2 must not queue its older TTL behind the set.
    [Fact]
    public async Task OlderFailedExpiry_NewerSetFlushedMeanwhile_NewerValueKeepsItsTtl()
    {
        var (time, l2, cache) = Build();
        await using var scope = cache;
        var key = "k1";
        await cache.SetAsync(key, "v1", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        var expire = await HoldFailingExpireAsync(cache, l2, key, TimeSpan.FromMinutes(1));

        await cache.SetAsync(key, "v2", TimeSpan.FromHours(2));            // T2: newer, acknowledged after T1 started
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed); // v2 in L2 with 2h

        l2.ExpireGate!.SetResult();                                        // T1's L2 call now fails (EndExpiry)
        await expire;
        l2.ExpireGate = null;
        l2.FailExpire = false;
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        time.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal("v2", (await cache.GetAsync<string>(key)).Value); // L1 still has v2
        Assert.Equal("v2", (await l2.Inner.GetAsync<string>(key)).Value); // the older 1-minute expiry must not land on v2
    }

    // The same, retried after the old deadline passed: the flusher must not delete the newer value from L2.
    [Fact]
    public async Task OlderFailedExpiry_PastItsDeadline_DoesNotDeleteANewerValue()
    {
        var (time, l2, cache) = Build();
        await using var scope = cache;
        var key = "k2";
        await cache.SetAsync(key, "v1", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        var expire = await HoldFailingExpireAsync(cache, l2, key, TimeSpan.FromSeconds(1));
        l2.ExpireGate!.SetResult();
        l2.ExpireGate = null;
        await expire; // retry queued, flusher keeps failing while FailExpire
        // Now a newer set coalesces the queued expiry: fine. The bad case is the in-flight expiry; use that window:
        await cache.SetAsync(key, "v2", TimeSpan.FromHours(2));
        time.Advance(TimeSpan.FromSeconds(5));
        l2.FailExpire = false;
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);
        Assert.Equal("v2", (await l2.Inner.GetAsync<string>(key)).Value); // expected to hold (the set coalesced over the queued expiry)
    }

    // An ExpireAsync whose L2 call fails while a newer set is in flight in the flusher must not land after that set.
    [Fact]
    public async Task OlderFailedExpiry_NewerSetInFlight_NewerValueStays()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var inner = new FaultyTier(TierTestKit.Memory("L2", time));
        var l2 = new ExpireControlTier(inner);
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var key = "k3";
        await cache.SetAsync(key, "v1", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        var expire = await HoldFailingExpireAsync(cache, l2, key, TimeSpan.FromSeconds(1));

        inner.Gate = new(TaskCreationOptions.RunContinuationsAsynchronously); // hold the flusher's SET of v2
        await cache.SetAsync(key, "v2", TimeSpan.FromHours(2));
        await TierTestKit.Eventually(() => inner.SetCalls + inner.SetManyCalls > 0);  // v2 is in flight

        l2.ExpireGate!.SetResult(); // T1 fails now, behind the newer set: it must not be retried
        l2.ExpireGate = null;
        await expire;
        l2.FailExpire = false;
        time.Advance(TimeSpan.FromSeconds(5)); // the old 1-second deadline has passed by the time it is retried
        inner.Gate.SetResult();
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        Assert.Equal("v2", (await cache.GetAsync<string>(key)).Value);       // L1: v2 (2h)
        Assert.Equal("v2", (await inner.Inner.GetAsync<string>(key)).Value); // the older expiry must not delete it
    }

    // Between the failed ExpireAsync and its retry, a read past the deadline is a miss (L2's copy is not copied back).
    [Fact]
    public async Task PendingExpiry_PastItsDeadline_ReadsMiss_NothingCopiedBackIntoL1()
    {
        var (time, l2, cache) = Build();
        await using var scope = cache;
        var key = "k4";
        await cache.SetAsync(key, "v", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        l2.FailExpire = true;
        l2.FailDelete = true; // the tier refuses writes for a while (reads still served)
        await cache.ExpireAsync(key, TimeSpan.FromMinutes(1));
        await TierTestKit.Eventually(() => Volatile.Read(ref l2.ExpireCalls) >= 2); // the flusher tried once and is backing off
        await Task.Delay(100);
        time.Advance(TimeSpan.FromMinutes(2)); // the deadline ExpireAsync acknowledged has passed

        var innerHas = (await l2.Inner.GetAsync<string>(key)).HasValue;
        var calls = l2.ExpireCalls;
        var exists = await cache.ExistsAsync(key);
        var read = await cache.GetAsync<string>(key);
        l2.FailExpire = false;
        l2.FailDelete = false;
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed); // retry lands: L2 copy removed
        var after = await cache.GetAsync<string>(key);
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.True(innerHas); // L2 still holds it with the old TTL...
        Assert.True(calls > 0);
        Assert.False(exists);  // ...but the acknowledged deadline has passed: a miss, not copied back into L1
        Assert.False(read.HasValue);
        Assert.False(after.HasValue);
    }

    // expiries of one batch go to a tier as ONE call (a loop of per-key EXPIREs) under ONE TierTimeout.
    [Fact]
    public async Task ManyQueuedExpiries_EachHasItsOwnTierTimeout_AllWritten()
    {
        var time = TimeProvider.System;
        var l2 = new ExpireControlTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time, o =>
        {
            o.TierTimeout = TimeSpan.FromMilliseconds(200);
            o.WriteBehind.MaxAttempts = 3;
            // Retries seconds apart: with the class's 10-50 ms back-off, three failed rounds fit in a loop of 100 calls
            // that a loaded machine slows, and the first expiries were dead-lettered before l2 answered again. The
            // flush below wakes the flusher at once, so the test takes no longer.
            o.WriteBehind.RetryBaseDelay = TimeSpan.FromSeconds(2);
            o.WriteBehind.RetryMaxDelay = TimeSpan.FromSeconds(2);
            o.CircuitBreakerFailureThreshold = 1000;
        });
        for (var i = 0; i < 100; i++)
        {
            await cache.SetAsync($"m{i}", "v", TimeSpan.FromHours(1));
        }

        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        l2.FailExpire = true;
        for (var i = 0; i < 100; i++)
        {
            await cache.ExpireAsync($"m{i}", TimeSpan.FromMinutes(10));
        }

        l2.FailExpire = false;
        l2.ExpireDelay = TimeSpan.FromMilliseconds(5); // each EXPIRE answers in 5 ms, well within the 200 ms tier timeout
        var result = await cache.FlushAsync(TimeSpan.FromSeconds(30));
        Assert.True(result.Completed);
        Assert.Equal(0, result.DeadLettered); // each expiry had its own tier call and timeout
        Assert.Equal(100, result.Written);
    }

    // The retry's deadline counts from the ExpireAsync call, not from when its tier call failed.
    [Fact]
    public async Task RetryDeadline_CountsFromTheCall_NotFromWhenItFailed()
    {
        var (time, l2, cache) = Build();
        await using var scope = cache;
        var key = "k5";
        await cache.SetAsync(key, "v", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        var expire = await HoldFailingExpireAsync(cache, l2, key, TimeSpan.FromMinutes(1));
        time.Advance(TimeSpan.FromSeconds(50)); // the failing call takes 50 s (a slow tier, a long TierTimeout)
        l2.ExpireGate!.SetResult();
        l2.ExpireGate = null;
        await expire;
        l2.FailExpire = false;
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);
        time.Advance(TimeSpan.FromSeconds(30)); // 80 s after the call: past the 60 s asked for
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue, "L2 still holds the key 80 s after ExpireAsync(1 min)");
    }
}
