using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>Under write-behind, a lower tier that fails <c>ExpireAsync</c> gets the new expiry again from the flusher.</summary>
public sealed class WriteBehindExpiryTests
{
    private static MultiTierCache Cache(InMemoryTier l1, FaultyTier l2, TimeProvider time, Action<WriteBehindOptions>? configure = null, bool ownsTiers = true)
    {
        var options = new MultiTierCacheOptions { TimeProvider = time, WriteStrategy = WriteStrategy.WriteBehind, OwnsTiers = ownsTiers };
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        configure?.Invoke(options.WriteBehind);
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return new MultiTierCache(options);
    }

    [Fact]
    public async Task ExpireAsync_LowerTierFailsTheCall_FlusherRetriesIt_LowerTierEndsWithTheNewExpiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        l2.Down = true;
        Assert.True(await cache.ExpireAsync(key, TimeSpan.FromMinutes(1))); // L1 held it
        Assert.Equal(1, cache.WriteBehindQueueDepth);
        l2.Down = false;
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        Assert.True((await l2.Inner.GetAsync<string>(key)).HasValue);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue); // the hour's TTL was replaced
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task ExpireAsync_LowerTierFailsTheCallWhileTheQueueIsFull_RetryIsQueuedAnyway_LowerTierEndsWithTheNewExpiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time, o => o.Capacity = 1);
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        // One filler held in flight at L2, a second one queued behind it: the queue is full.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var filler = key + ":filler";
        l2.GateWhen = k => k.StartsWith(filler, StringComparison.Ordinal);
        l2.Gate = gate;
        var before = l2.Calls;
        await cache.SetAsync(filler + "1", "x", TimeSpan.FromHours(1));
        await TierTestKit.Eventually(() => l2.Calls > before);
        await cache.SetAsync(filler + "2", "x", TimeSpan.FromHours(1));

        int depth;
        try
        {
            var expireCall = l2.Calls + 1;
            l2.FailWhen = n => n == expireCall;
            Assert.True(await cache.ExpireAsync(key, TimeSpan.FromMinutes(1))); // L1 held it; L2 failed the call
            l2.FailWhen = null;
            depth = cache.WriteBehindQueueDepth;
        }
        finally
        {
            l2.Gate = null;
            gate.SetResult(); // a failed assertion must not leave the flusher held (disposing would wait for it)
        }

        Assert.Equal(3, depth); // past the capacity of 1: the expiry's retry is in
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);
        Assert.True((await l2.Inner.GetAsync<string>(key)).HasValue);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue); // the hour's TTL was replaced
    }

    [Fact]
    public async Task ExpireAsync_RetriedLate_KeepsTheDeadlineOfTheCall_AndRemovesTheKeyOnceItHasPassed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var kept = TierTestKit.Key(this) + ":kept";
        var gone = TierTestKit.Key(this) + ":gone";
        await cache.SetAsync(kept, "v", TimeSpan.FromHours(1));
        await cache.SetAsync(gone, "v", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        // Both calls are held at L2 while the clock moves five minutes, then L2 fails them: they are queued only after
        // the jump, so every retry runs five minutes after the calls began (no attempt can read the clock before it).
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var before = l2.Calls;
        l2.Gate = gate;
        var expireKept = cache.ExpireAsync(kept, TimeSpan.FromMinutes(10)).AsTask();
        var expireGone = cache.ExpireAsync(gone, TimeSpan.FromMinutes(1)).AsTask();
        await TierTestKit.Eventually(() => l2.Calls >= before + 2);
        time.Advance(TimeSpan.FromMinutes(5));
        l2.Gate = null;
        gate.SetException(new CacheConnectionException("L2 failed the calls."));
        Assert.True(await expireKept); // L1 held both keys
        Assert.True(await expireGone);
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        Assert.False((await l2.Inner.GetAsync<string>(gone)).HasValue); // its deadline had passed: removed
        Assert.True((await l2.Inner.GetAsync<string>(kept)).HasValue);
        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        Assert.False((await l2.Inner.GetAsync<string>(kept)).HasValue); // ten minutes after the call, not fifteen
    }

    [Fact]
    public async Task ExpireAsync_LowerTierStaysDown_DeadLetteredAsAnExpiry_NamingTheTierAndTtl()
    {
        var time = TimeProvider.System; // the retries' back-off runs on it
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time, o => o.MaxAttempts = 2);
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v", TimeSpan.FromHours(1));
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        l2.Down = true;
        await cache.ExpireAsync(key, TimeSpan.FromMinutes(1));
        var flushed = await cache.FlushAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(1, flushed.DeadLettered);
        var letter = Assert.Single(cache.DrainDeadLetters());
        Assert.Equal(key, letter.Key);
        Assert.Equal(WriteBehindOperation.Expire, letter.Operation);
        Assert.Equal(TimeSpan.FromMinutes(1), letter.Ttl);
        Assert.Equal(["L2"], letter.FailedTiers);
    }

    [Fact]
    public async Task ExpireAsync_SetQueuedAfterTheFailedExpiry_TheSetWins()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v1", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        l2.Down = true;
        await cache.ExpireAsync(key, TimeSpan.FromMinutes(1));
        l2.Down = false;
        await cache.SetAsync(key, "v2", TimeSpan.FromHours(2));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        time.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal("v2", (await l2.Inner.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task Journal_ExpiryAFailedTierHadNotTaken_ReplayedByTheNextInstance()
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var shared = TierTestKit.Memory("L2", time); // the lower tier both instances use
            var key = TierTestKit.Key(this);
            await shared.SetAsync(key, "v", TimeSpan.FromHours(1));

            // The first process runs on the system clock (its shutdown waits on it); the deadline it journals is a
            // minute from the real now, where the fake clock starts.
            var down = new FaultyTier(shared) { Down = true };
            var first = Cache(TierTestKit.Memory("L1"), down, TimeProvider.System, o => o.JournalPath = path, ownsTiers: false);
            await first.ExpireAsync(key, TimeSpan.FromMinutes(1));
            await first.WriteBehindQueue!.AbandonAsync(); // the process dies before the retry
            await first.DisposeAsync();

            await using var second = Cache(TierTestKit.Memory("L1", time), new FaultyTier(shared), time, o => o.JournalPath = path);
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
            time.Advance(TimeSpan.FromMinutes(2));
            Assert.False((await shared.GetAsync<string>(key)).HasValue);
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }
}
