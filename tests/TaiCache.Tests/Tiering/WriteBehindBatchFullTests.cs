using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>A write-behind batch (SetManyAsync, DeleteManyAsync) meets a queue without room for all of it.</summary>
public sealed class WriteBehindBatchFullTests
{
    /// <summary>
    /// A cache whose queue (capacity 2) holds one key with one slot free: <c>key + 0</c> is held in flight at L2's gate,
    /// <c>key + 1</c> (value 1) waits in the queue.
    /// </summary>
    private static async Task<(MultiTierCache Cache, InMemoryTier L1, FaultyTier L2, TaskCompletionSource Gate)> OneSlotFreeAsync(string key, WriteBehindFullPolicy policy, int capacity = 2)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o =>
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind.Capacity = capacity;
            o.WriteBehind.FullPolicy = policy;
            o.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(100);
        });
        var (gate, reached) = l2.HoldCallsOn(key + 0);
        await cache.SetAsync(key + 0, 0);
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the flusher is writing it
        await cache.SetAsync(key + 1, 1);
        Assert.Equal(2, cache.WriteBehindQueueDepth);
        return (cache, l1, l2, gate);
    }

    /// <summary>Opens the gate before the cache is disposed, so a failed assertion does not wait out the drain.</summary>
    private sealed class Released(MultiTierCache cache, TaskCompletionSource gate) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            gate.TrySetResult();
            return cache.DisposeAsync();
        }
    }

    private static KeyValuePair<string, int> Item(string key, int value) => KeyValuePair.Create(key, value);

    [Fact]
    public async Task SetManyAsync_Reject_BatchNeedsMoreRoomThanFree_AppliesNothing_AndSaysHowMuch()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, l2, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.Reject);
        await using var scope = new Released(cache, gate);

        // key+1 coalesces into its queued entry (no room needed); a and b need a slot each, one is free.
        var e = await Assert.ThrowsAsync<WriteBehindQueueFullException>(() => cache.SetManyAsync([Item(key + 1, 11), Item(key + "a", 1), Item(key + "b", 2)]).AsTask());
        Assert.Contains("needed room for 2 keys", e.Message, StringComparison.Ordinal);
        Assert.Contains("1 was free", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, e.Capacity);
        Assert.True(l1.TryGet<int>(key + 1, out var kept));
        Assert.Equal(1, kept);
        Assert.False(l1.TryGet<int>(key + "a", out _));
        Assert.False(l1.TryGet<int>(key + "b", out _));
        Assert.Equal(2, cache.WriteBehindQueueDepth);

        // A batch whose new keys fit goes in whole, the queued key counted as free.
        await cache.SetManyAsync([Item(key + 1, 11), Item(key + "a", 1)]);
        Assert.True(l1.TryGet<int>(key + 1, out var coalesced));
        Assert.Equal(11, coalesced);

        gate.TrySetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(11, (await l2.Inner.GetAsync<int>(key + 1)).Value);
        Assert.Equal(1, (await l2.Inner.GetAsync<int>(key + "a")).Value);
        Assert.False((await l2.Inner.GetAsync<int>(key + "b")).HasValue);
    }

    [Fact]
    public async Task DeleteManyAsync_Reject_BatchNeedsMoreRoomThanFree_RemovesNothing()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, _, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.Reject);
        await using var scope = new Released(cache, gate);
        l1.Set(key + "x", 1, TimeSpan.FromMinutes(5));
        l1.Set(key + "y", 2, TimeSpan.FromMinutes(5));

        var e = await Assert.ThrowsAsync<WriteBehindQueueFullException>(() => cache.DeleteManyAsync([key + "x", key + "y"]).AsTask());
        Assert.Contains("needed room for 2 keys", e.Message, StringComparison.Ordinal);
        Assert.True(l1.TryGet<int>(key + "x", out _));
        Assert.True(l1.TryGet<int>(key + "y", out _));

        gate.TrySetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
    }

    [Fact]
    public async Task SetManyAsync_Block_WaitsForRoomForTheWholeBatch_ACancelledWaitAppliesNothing()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, l2, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.Block);
        await using var scope = new Released(cache, gate);

        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.SetManyAsync([Item(key + "a", 1), Item(key + "b", 2)], cancellationToken: cts.Token).AsTask());
        }

        Assert.False(l1.TryGet<int>(key + "a", out _));
        Assert.False(l1.TryGet<int>(key + "b", out _));

        var blocked = cache.SetManyAsync([Item(key + "a", 1), Item(key + "b", 2)]).AsTask();
        await Task.Delay(100);
        Assert.False(blocked.IsCompleted);
        Assert.False(l1.TryGet<int>(key + "a", out _));

        gate.TrySetResult();
        await blocked.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(1, (await l2.Inner.GetAsync<int>(key + "a")).Value);
        Assert.Equal(2, (await l2.Inner.GetAsync<int>(key + "b")).Value);
    }

    [Fact]
    public async Task Block_RoomGoesToTheOldestWaiter_ASingleWriteDoesNotTakeTheSlotABlockedBatchWaitsFor()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, l2, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.Block);
        await using var scope = new Released(cache, gate);

        var batch = cache.SetManyAsync([Item(key + "a", 1), Item(key + "b", 2)]).AsTask();
        await Task.Delay(100);
        var batchInWhenSingleDone = cache.SetAsync(key + "s", 3).AsTask().ContinueWith(_ => l1.TryGet<int>(key + "a", out var _), TaskScheduler.Default);
        await Task.Delay(200);

        // The slot free all along is the batch's to wait for: the single write, which came later, waits behind it.
        Assert.False(batchInWhenSingleDone.IsCompleted, "a later single write took the room the blocked batch was waiting for");
        Assert.False(batch.IsCompleted);

        gate.TrySetResult();
        await batch.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(await batchInWhenSingleDone.WaitAsync(TimeSpan.FromSeconds(20)), "the single write went in before the batch");
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(3, (await l2.Inner.GetAsync<int>(key + "s")).Value);
        Assert.Equal(2, (await l2.Inner.GetAsync<int>(key + "b")).Value);
    }

    [Fact]
    public async Task Block_OldestWaiterCancelled_TheNextTakesTheRoom()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, _, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.Block);
        await using var scope = new Released(cache, gate);
        using var cts = new CancellationTokenSource();

        var batch = cache.SetManyAsync([Item(key + "a", 1), Item(key + "b", 2)], cancellationToken: cts.Token).AsTask();
        await Task.Delay(100);
        var single = cache.SetAsync(key + "s", 3).AsTask();
        await Task.Delay(100);
        Assert.False(single.IsCompleted);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => batch);
        await single.WaitAsync(TimeSpan.FromSeconds(20)); // the slot free all along, with the gate still closed
        Assert.True(l1.TryGet<int>(key + "s", out var value) && value == 3);
        Assert.False(l1.TryGet<int>(key + "a", out _));
    }

    [Fact]
    public async Task SetManyAsync_FallBackToWriteThrough_KeysNeedingRoomWrittenThroughBeforeReturning_QueuedKeysCoalesce()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, l2, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.FallBackToWriteThrough);
        await using var scope = new Released(cache, gate);

        await cache.SetManyAsync([Item(key + 1, 11), Item(key + "a", 1), Item(key + "b", 2)]).AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        // a and b found no room: both in L2 before the call returned (one batch through every tier).
        Assert.Equal(1, (await l2.Inner.GetAsync<int>(key + "a")).Value);
        Assert.Equal(2, (await l2.Inner.GetAsync<int>(key + "b")).Value);
        Assert.True(l1.TryGet<int>(key + "a", out _));
        Assert.True(l1.TryGet<int>(key + 1, out var coalesced));
        Assert.Equal(11, coalesced);
        Assert.Equal(2, cache.WriteBehindQueueDepth); // key+1 still queued, key+0 in flight

        gate.TrySetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(11, (await l2.Inner.GetAsync<int>(key + 1)).Value);
    }

    [Fact]
    public async Task SetManyAsync_FallBackToWriteThrough_WriteThroughFails_NothingOfTheBatchApplied()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, l2, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.FallBackToWriteThrough);
        await using var scope = new Released(cache, gate);
        l2.Down = true;

        await Assert.ThrowsAsync<TierWriteException>(() => cache.SetManyAsync([Item(key + 1, 11), Item(key + "a", 1), Item(key + "b", 2)]).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(l1.TryGet<int>(key + 1, out var kept));
        Assert.Equal(1, kept);
        Assert.False(l1.TryGet<int>(key + "a", out _));
        Assert.False(l1.TryGet<int>(key + "b", out _));

        l2.Down = false;
        gate.TrySetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(1, (await l2.Inner.GetAsync<int>(key + 1)).Value);
    }

    [Fact]
    public async Task SetManyAsync_Reject_ConcurrentBatches_EachAllOrNothing_CapacityNeverOverrun()
    {
        var key = TierTestKit.Key(this);
        var (cache, l1, _, gate) = await OneSlotFreeAsync(key, WriteBehindFullPolicy.Reject, capacity: 21); // 20 slots free
        await using var scope = new Released(cache, gate);

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = Enumerable.Range(0, 30).Select(b => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                await cache.SetManyAsync(Enumerable.Range(0, 3).Select(i => Item($"{key}:{b}:{i}", i)));
                return true;
            }
            catch (WriteBehindQueueFullException)
            {
                return false;
            }
        })).ToArray();
        start.SetResult();
        var accepted = await Task.WhenAll(batches).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(6, accepted.Count(a => a)); // 20 free slots, 3 keys a batch: 2 slots stay free
        for (var b = 0; b < batches.Length; b++)
        {
            var inL1 = Enumerable.Range(0, 3).Count(i => l1.TryGet<int>($"{key}:{b}:{i}", out _));
            Assert.Equal(accepted[b] ? 3 : 0, inL1);
        }

        Assert.Equal(20, cache.WriteBehindQueueDepth); // 19 queued, one in flight
        gate.TrySetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
    }

    [Fact]
    public async Task SetManyAsync_Journaled_AValueTheJournalCannotEncode_NothingOfTheBatchApplied()
    {
        var key = TierTestKit.Key(this);
        var path = TierTestKit.NewJournalPath();
        try
        {
            var (cache, l1, _, _) = TierTestKit.Build(o =>
            {
                o.WriteStrategy = WriteStrategy.WriteBehind;
                o.WriteBehind.JournalPath = path;
            });
            await using (cache)
            {
                var items = new[] { KeyValuePair.Create<string, object>(key + "a", "fine"), KeyValuePair.Create<string, object>(key + "b", new TaiCache.Tests.Memory.InMemoryTierTests.Unserializable()) };

                await Assert.ThrowsAsync<CacheSerializationException>(() => cache.SetManyAsync(items).AsTask());
                Assert.False(l1.TryGet<object>(key + "a", out _));
                Assert.Equal(0, cache.WriteBehindQueueDepth);
            }
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }
}
