using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>The write-behind depth (and what a flush or drain reports) counts each unwritten key once.</summary>
public sealed class WriteBehindDepthTests
{
    [Fact]
    public async Task WriteBehindQueueDepth_KeyInFlightWithANewerVersionQueued_CountsOnce()
    {
        var (cache, _, l2, _) = TierTestKit.Build(o => o.WriteStrategy = WriteStrategy.WriteBehind);
        var key = TierTestKit.Key(this);
        var (gate, reached) = l2.HoldCallsOn(key);
        try
        {
            await cache.SetAsync(key, 1);
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(20)); // version 1 being written
            await cache.SetAsync(key, 2);                            // version 2 waits behind it
            await cache.SetAsync(key + ":other", 3);

            Assert.Equal(2, cache.WriteBehindQueueDepth);
            var flush = await cache.FlushAsync(TimeSpan.FromMilliseconds(200));
            Assert.False(flush.Completed);
            Assert.Equal(2, flush.PendingCount);
            Assert.Equal(flush.UnwrittenKeys.Distinct().Count(), flush.UnwrittenKeys.Count);

            gate.TrySetResult();
            Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
            Assert.Equal(0, cache.WriteBehindQueueDepth);
            Assert.Equal(2, (await l2.Inner.GetAsync<int>(key)).Value);
        }
        finally
        {
            gate.TrySetResult();
            await cache.DisposeAsync();
        }
    }
}
