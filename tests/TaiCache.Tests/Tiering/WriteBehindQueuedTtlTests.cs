using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Under write-behind, a value's TTL counts from the set, not from the flush: a value that waited in the queue (a lower
/// tier was down) reaches the lower tiers with what is left of its TTL, and one whose TTL ended meanwhile is not
/// written, nor served.
/// </summary>
public sealed class WriteBehindQueuedTtlTests
{
    private static MultiTierCache Cache(InMemoryTier l1, FaultyTier l2, TimeProvider time, string? journal = null)
    {
        var options = new MultiTierCacheOptions { TimeProvider = time, WriteStrategy = WriteStrategy.WriteBehind };
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        options.WriteBehind.JournalPath = journal;
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return new MultiTierCache(options);
    }

    /// <summary>
    /// Holds the flusher's first write to L2 while the clock moves on, then fails it: every later attempt reads the
    /// clock after the jump (none that read it before can land after it).
    /// </summary>
    private static async Task FailFirstFlushAcross(FaultyTier l2, FakeTimeProvider time, TimeSpan jump, Func<Task> write)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var before = l2.Calls;
        l2.Gate = gate;
        await write();
        await TierTestKit.Eventually(() => l2.Calls > before);
        time.Advance(jump);
        l2.Gate = null;
        gate.SetException(new CacheConnectionException("L2 failed the first flush."));
    }

    [Fact]
    public async Task Set_FlushedMinutesLate_LowerTierKeepsItUntilTheSetsDeadline_NotTheTtlFromTheFlush()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var key = TierTestKit.Key(this);
        var setAt = time.GetUtcNow();

        await FailFirstFlushAcross(l2, time, TimeSpan.FromMinutes(4), () => cache.SetAsync(key, "v", TimeSpan.FromMinutes(10)).AsTask());
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        time.Advance(setAt + TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(2) - time.GetUtcNow());
        Assert.Equal("v", (await l2.Inner.GetAsync<string>(key)).Value);
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue); // ten minutes after the set, not fourteen
    }

    [Fact]
    public async Task Expire_OfAQueuedValueWhoseTtlEnded_DoesNotBringItBack()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time)) { Down = true }; // the value waits in the queue
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v", TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(2));

        var renewed = await cache.ExpireAsync(key, TimeSpan.FromMinutes(10));
        var read = await cache.GetAsync<string>(key);
        l2.Down = false; // before any assertion: a cache left with queued writes would wait out its drain on the fake clock
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        Assert.False(renewed);
        Assert.False(read.HasValue);
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task Set_WhoseTtlEndsWhileQueued_IsNeitherServedNorWritten_AndTheLowerTierLosesTheOlderValue()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
        await using var cache = Cache(TierTestKit.Memory("L1", time), l2, time);
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "old", TimeSpan.FromHours(1));
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        await FailFirstFlushAcross(l2, time, TimeSpan.FromMinutes(2), () => cache.SetAsync(key, "new", TimeSpan.FromMinutes(1)).AsTask());
        Assert.Equal(1, cache.WriteBehindQueueDepth); // still queued, its TTL over
        Assert.False((await cache.GetAsync<string>(key)).HasValue); // neither "new" (expired) nor "old" (overwritten)
        Assert.False(await cache.ExistsAsync(key));

        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task Set_AndExpire_WithTheLongestTtl_AreJournaledAndFlushed()
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var l2 = new FaultyTier(TierTestKit.Memory("L2", time));
            await using (var cache = Cache(TierTestKit.Memory("L1", time), l2, time, path))
            {
                var key = TierTestKit.Key(this);
                await cache.SetAsync(key, "v", TimeSpan.MaxValue);
                Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);
                Assert.Equal("v", (await l2.Inner.GetAsync<string>(key)).Value);
                Assert.Equal("v", (await cache.GetAsync<string>(key)).Value);
                Assert.True(await cache.ExpireAsync(key, TimeSpan.MaxValue)); // its deadline is the calendar's last moment
                time.Advance(TimeSpan.FromDays(365));
                Assert.Equal("v", (await l2.Inner.GetAsync<string>(key)).Value);
            }
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }
}
