using System.Collections.Concurrent;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

public sealed class WriteBehindTests
{
    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) Build(Action<WriteBehindOptions>? configure = null, Action<MultiTierCacheOptions>? more = null)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o =>
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(100);
            configure?.Invoke(o.WriteBehind);
            more?.Invoke(o);
        });
        return (cache, l1, l2);
    }

    [Fact]
    public async Task SetAsync_ReturnsAfterL1_LowerTierWrittenByFlusher()
    {
        var (cache, l1, l2) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.Gate = new TaskCompletionSource();
        await cache.SetAsync(key, "v");
        Assert.True(l1.TryGet<string>(key, out _));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.True(cache.WriteBehindQueueDepth >= 1);
        l2.Gate.SetResult();
        var result = await cache.FlushAsync(TimeSpan.FromSeconds(20));
        Assert.True(result.Completed);
        Assert.Equal("v", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.Equal(0, cache.WriteBehindQueueDepth);
    }

    [Theory]
    [InlineData(WriteStrategy.WriteBehind)]
    [InlineData(WriteStrategy.WriteThrough)]
    public async Task Writes_WithACancelledToken_ApplyNothing(WriteStrategy strategy)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.WriteStrategy = strategy);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "held");
        await cache.FlushAsync(TimeSpan.FromSeconds(20));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.SetAsync(key, "new", cancellationToken: cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.SetManyAsync([KeyValuePair.Create(key, "new")], cancellationToken: cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.DeleteAsync(key, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.DeleteManyAsync([key], cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.ExpireAsync(key, TimeSpan.FromSeconds(1), cancelled.Token));

        await cache.FlushAsync(TimeSpan.FromSeconds(20));
        Assert.True(l1.TryGet<string>(key, out var local) && local == "held", $"L1 holds '{local}'");
        Assert.Equal("held", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.False(l1.GetRemainingTtl(key) is { } left && left > TimeSpan.Zero && left <= TimeSpan.FromSeconds(1), "the cancelled ExpireAsync set the new TTL");
    }

    [Fact]
    public async Task ExpireAsync_WhileTheFlusherWritesTheKey_TheNewTtlReachesTheLowerTier()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(o => o.WriteStrategy = WriteStrategy.WriteBehind, time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.GateWhen = k => k == key;
        l2.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await cache.SetAsync(key, "v");
        await TierTestKit.Eventually(() => l2.SetCalls > 0); // the flusher is writing it, held at the gate

        // L2 does not hold the key yet, so its own expire finds nothing; the write in flight carries no TTL.
        Assert.True(await cache.ExpireAsync(key, TimeSpan.FromMinutes(1)));
        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.True((await l2.Inner.GetAsync<string>(key)).HasValue);

        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task ExpireAsync_AfterADeleteQueuedBehindTheKeysWriteInFlight_DoesNotBringTheValueBack()
    {
        var (cache, _, l2, _) = TierTestKit.Build(o => o.WriteStrategy = WriteStrategy.WriteBehind);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.GateWhen = k => k == key;
        l2.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await cache.SetAsync(key, "v1");
        await TierTestKit.Eventually(() => l2.SetCalls > 0); // the flusher is writing v1, held at the gate
        await cache.DeleteAsync(key);

        Assert.False(await cache.ExpireAsync(key, TimeSpan.FromMinutes(1))); // deleted, as far as the caller knows
        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task SetAsync_RepeatedWritesToOneKey_CoalescedLatestWins_NeverOlderAfterNewer()
    {
        var (cache, _, l2) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var written = new ConcurrentQueue<int>();
        l2.OnWrite = (k, v) =>
        {
            if (k == key)
            {
                written.Enqueue((int)v!);
            }
        };
        l2.Gate = new TaskCompletionSource();
        await cache.SetAsync(key, 0);
        await TierTestKit.Eventually(() => l2.Calls >= 1);
        for (var i = 1; i <= 1000; i++)
        {
            await cache.SetAsync(key, i);
        }

        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        var seen = written.ToArray();
        Assert.Equal(1000, (await l2.Inner.GetAsync<int>(key)).Value);
        Assert.True(seen.Length <= 3, $"{seen.Length} writes reached L2; expected coalescing");
        Assert.Equal(seen.Order().ToArray(), seen);
    }

    [Fact]
    public async Task QueueFull_Reject_ThrowsTypedException_AndL1Unchanged()
    {
        var (cache, l1, l2) = Build(o =>
        {
            o.Capacity = 2;
            o.FullPolicy = WriteBehindFullPolicy.Reject;
        });
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.Gate = new TaskCompletionSource();
        await cache.SetAsync(key + 0, 0);
        await TierTestKit.Eventually(() => l2.Calls >= 1);
        await cache.SetAsync(key + 1, 1);
        await cache.SetAsync(key + 2, 2);

        var e = await Assert.ThrowsAsync<WriteBehindQueueFullException>(() => cache.SetAsync(key + 3, 3).AsTask());
        Assert.Equal(2, e.Capacity);
        Assert.Equal(key + 3, e.Key);
        Assert.False(l1.TryGet<int>(key + 3, out _));
        await cache.SetAsync(key + 1, 11);
        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(11, (await l2.Inner.GetAsync<int>(key + 1)).Value);
    }

    [Fact]
    public async Task QueueFull_Block_WaitsForRoom_ThenQueues()
    {
        var (cache, _, l2) = Build(o =>
        {
            o.Capacity = 2;
            o.FullPolicy = WriteBehindFullPolicy.Block;
        });
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.Gate = new TaskCompletionSource();
        await cache.SetAsync(key + 0, 0);
        await TierTestKit.Eventually(() => l2.Calls >= 1);
        await cache.SetAsync(key + 1, 1);
        await cache.SetAsync(key + 2, 2);

        var blocked = cache.SetAsync(key + 3, 3).AsTask();
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.SetAsync(key + 4, 4, cancellationToken: cts.Token).AsTask());

        l2.Gate.SetResult();
        await blocked.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal(3, (await l2.Inner.GetAsync<int>(key + 3)).Value);
    }

    [Fact]
    public async Task QueueFull_FallBackToWriteThrough_WritesEveryTierBeforeReturning()
    {
        var (cache, _, l2) = Build(o =>
        {
            o.Capacity = 2;
            o.FullPolicy = WriteBehindFullPolicy.FallBackToWriteThrough;
        });
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.GateWhen = k => k == key + 0;
        l2.Gate = new TaskCompletionSource();
        await cache.SetAsync(key + 0, 0);
        await TierTestKit.Eventually(() => l2.Calls >= 1);
        await cache.SetAsync(key + 1, 1);
        await cache.SetAsync(key + 2, 2);

        await cache.SetAsync(key + 3, 3).AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(3, (await l2.Inner.GetAsync<int>(key + 3)).Value);
        Assert.False((await l2.Inner.GetAsync<int>(key + 0)).HasValue);
        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
    }

    [Fact]
    public async Task LowerTierKeepsFailing_AfterMaxAttempts_DeadLetterReadable()
    {
        var letters = new ConcurrentQueue<WriteBehindDeadLetter>();
        var (cache, _, l2) = Build(o =>
        {
            o.MaxAttempts = 3;
            o.OnDeadLetter = letters.Enqueue;
        }, o => o.CircuitBreakerFailureThreshold = 0);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.Down = true;
        await cache.SetAsync(key, "lost?", TimeSpan.FromMinutes(5));
        var flush = await cache.FlushAsync(TimeSpan.FromSeconds(20));

        Assert.True(flush.Completed);
        Assert.Equal(1, flush.DeadLettered);
        var letter = Assert.Single(cache.DrainDeadLetters());
        Assert.Equal(key, letter.Key);
        Assert.Equal("lost?", letter.Value);
        Assert.Equal(WriteBehindOperation.Set, letter.Operation);
        Assert.Equal(3, letter.Attempts);
        Assert.Equal(["L2"], letter.FailedTiers);
        Assert.Equal(TimeSpan.FromMinutes(5), letter.Ttl);
        Assert.Single(letters);
        Assert.Empty(cache.DrainDeadLetters());
    }

    [Fact]
    public async Task DisposeAsync_DrainsQueue()
    {
        var (cache, _, l2) = Build(more: o => o.OwnsTiers = false);
        var key = TierTestKit.Key(this);
        l2.Delay = TimeSpan.FromMilliseconds(20);
        for (var i = 0; i < 300; i++)
        {
            await cache.SetAsync(key + i, i);
        }

        await cache.DisposeAsync();
        Assert.True(cache.LastDrainResult!.Completed);
        l2.Delay = TimeSpan.Zero;
        var stored = await l2.Inner.GetManyAsync<int>(Enumerable.Range(0, 300).Select(i => key + i));
        Assert.Equal(300, stored.Count);
    }

    [Fact]
    public async Task DisposeAsync_TierDownPastDeadline_ReportsWhatWasNotWritten()
    {
        var (cache, _, l2) = Build(o => o.DrainTimeout = TimeSpan.FromMilliseconds(500));
        var key = TierTestKit.Key(this);
        l2.Down = true;
        for (var i = 0; i < 5; i++)
        {
            await cache.SetAsync(key + i, i);
        }

        await cache.DisposeAsync();
        Assert.False(cache.LastDrainResult!.Completed);
        Assert.Equal(5, cache.LastDrainResult.UnwrittenKeys.Count);
        Assert.Equal(5, cache.LastDrainResult.DeadLettered); // what the deadline left went to the dead-letter sink ...
        Assert.Equal(0, cache.LastDrainResult.PendingCount); // ... and is no longer pending
        var letters = cache.DrainDeadLetters();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => key + i).Order(), letters.Select(l => l.Key).Order());
    }

    [Fact]
    public async Task QueueAge_GrowsWhileTierIsDown_AndDeleteIsQueuedInOrder()
    {
        var (cache, l1, l2) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 1);
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        l2.Gate = new TaskCompletionSource();
        await cache.SetAsync(key, 2);
        Assert.True(await cache.DeleteAsync(key));
        Assert.False(l1.TryGet<int>(key, out _));
        await Task.Delay(100);
        Assert.True(cache.WriteBehindOldestAge >= TimeSpan.FromMilliseconds(50));
        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.False((await l2.Inner.GetAsync<int>(key)).HasValue);
        Assert.Equal(TimeSpan.Zero, cache.WriteBehindOldestAge);
    }

    [Fact]
    public async Task Journal_ProcessCrashesBeforeFlush_NextInstanceReplaysEveryAcknowledgedWrite()
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            var key = TierTestKit.Key(this);
            var (first, _, downL2) = Build(o => o.JournalPath = path);
            downL2.Down = true;
            for (var i = 0; i < 200; i++)
            {
                await first.SetAsync(key + i, new Contract.OrderLine("sku" + i, i, i));
            }

            for (var i = 0; i < 200; i += 2)
            {
                await first.SetAsync(key + i, new Contract.OrderLine("sku" + i, i + 1000, i));
            }

            await first.DeleteAsync(key + 199);
            await first.WriteBehindQueue!.AbandonAsync();
            await first.DisposeAsync();

            var (second, l1, l2) = Build(o => o.JournalPath = path);
            await using var scope = second;
            Assert.True((await second.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
            var stored = await l2.Inner.GetManyAsync<Contract.OrderLine>(Enumerable.Range(0, 200).Select(i => key + i));
            Assert.Equal(199, stored.Count);
            for (var i = 0; i < 199; i++)
            {
                Assert.Equal(i % 2 == 0 ? i + 1000 : i, stored[key + i].Quantity);
            }

            Assert.True(l1.TryGet<Contract.OrderLine>(key + 0, out var fromL1) && fromL1.Quantity == 1000);
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }

    [Fact]
    public async Task Journal_SetWhoseTtlEndedWhileNoProcessRan_IsNotReplayedAsAValue_AndRemovesTheOlderLowerValue()
    {
        var path = TierTestKit.NewJournalPath();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        void WriteBehind(MultiTierCacheOptions o)
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind.JournalPath = path;
        }

        try
        {
            var shortLived = TierTestKit.Key(this);
            var longLived = TierTestKit.Key(this);
            var (first, _, _, _) = TierTestKit.Build(o =>
            {
                WriteBehind(o);
                ((FaultyTier)o.Tiers[1]).Down = true;
            }, time);
            await first.SetAsync(shortLived, "short", TimeSpan.FromMinutes(2));
            await first.SetAsync(longLived, "long", TimeSpan.FromMinutes(10));
            await first.WriteBehindQueue!.AbandonAsync(); // the process dies with both writes journaled
            await first.DisposeAsync();

            time.Advance(TimeSpan.FromMinutes(5));
            var (second, _, l2, _) = TierTestKit.Build(o =>
            {
                WriteBehind(o);
                ((FaultyTier)o.Tiers[1]).Inner.SetAsync(shortLived, "older").AsTask().GetAwaiter().GetResult();
            }, time);
            await using var scope = second;

            // Replayed with a fresh 2 minutes before: served (and written below) 5 minutes after it expired.
            Assert.False((await second.GetAsync<string>(shortLived)).HasValue);
            Assert.Equal("long", (await second.GetAsync<string>(longLived)).Value);
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
            Assert.False((await l2.Inner.GetAsync<string>(shortLived)).HasValue); // the key's latest write ended: the older value goes too
            Assert.InRange(((InMemoryTier)l2.Inner).GetRemainingTtl(longLived)!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }

    [Fact]
    public async Task Journal_OpenByAnotherCache_IsRefused_UntilThatCacheIsDisposed()
    {
        // Two caches on one journal replayed and deleted each other's rows: an acknowledged write was lost.
        var path = TierTestKit.NewJournalPath();
        try
        {
            var (first, _, _) = Build(o => o.JournalPath = path);
            var error = Assert.Throws<CacheConnectionException>(() => Build(o => o.JournalPath = path));
            Assert.Contains("in use by another cache", error.Message, StringComparison.Ordinal);

            await first.DisposeAsync();
            var (second, _, _) = Build(o => o.JournalPath = path);
            await second.DisposeAsync();
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }

    [Theory]
    [InlineData("missing-folder")]
    [InlineData("not-a-database")]
    public void Journal_ThatCannotBeOpened_FailsWithCacheConnectionException_NamingIt(string problem)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"taicache-journal-{Guid.NewGuid():N}");
        var path = Path.Combine(folder, "deeper", "journal.db");
        try
        {
            if (problem == "not-a-database")
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(path, Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray());
                var error = Assert.Throws<CacheConnectionException>(() => Build(o => o.JournalPath = path));
                Assert.Contains(path, error.Message, StringComparison.Ordinal);
                Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(error.InnerException);
            }
            else
            {
                // A journal in a folder not yet made is made, as SqliteTier makes its own (this threw SqliteException 14).
                var (cache, _, _) = Build(o => o.JournalPath = path);
                cache.Dispose();
                Assert.True(File.Exists(path));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Journal_RowWhoseTypeCannotBeResolved_IsDeadLetteredAsTheSetItWas_WithTtlAndBytes()
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            var key = TierTestKit.Key(this);
            var (first, _, downL2) = Build(o => o.JournalPath = path);
            downL2.Down = true;
            await first.SetAsync(key, "kept", TimeSpan.FromMinutes(7));
            await first.WriteBehindQueue!.AbandonAsync();
            await first.DisposeAsync();

            // As if the value's type were renamed or its assembly gone in the next version of the app.
            await using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
            {
                await db.OpenAsync();
                using var update = db.CreateCommand();
                update.CommandText = "UPDATE taicache_write_behind_journal SET type = 'No.Such.Type, NoSuchAssembly'";
                Assert.Equal(1, await update.ExecuteNonQueryAsync());
            }

            var (second, _, l2) = Build(o => o.JournalPath = path);
            await using var scope = second;
            var letter = Assert.Single(second.DrainDeadLetters());
            Assert.Equal(key, letter.Key);
            Assert.Equal(WriteBehindOperation.Set, letter.Operation);
            Assert.InRange(letter.Ttl!.Value, TimeSpan.FromMinutes(6), TimeSpan.FromMinutes(7)); // what was left of its 7 minutes
            Assert.Contains("No.Such.Type", letter.Error, StringComparison.Ordinal);
            Assert.Equal("kept", new TaiCache.Serialization.CacheValueCodec().Decode<string>(key, (byte[])letter.Value!));
            Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }

    [Fact]
    public async Task ReadsBelowL1_WhileRemovalOrValueIsQueued_AnswerFromTheQueueNotTheOlderLowerTier()
    {
        var (cache, l1, l2) = Build();
        await using var scope = cache;
        var deleted = TierTestKit.Key(this) + ":deleted";
        var updated = TierTestKit.Key(this) + ":updated";
        await l2.Inner.SetAsync(deleted, "old");
        await l2.Inner.SetAsync(updated, "old");
        l2.Gate = new TaskCompletionSource(); // the flusher, and any read that reaches L2, waits
        await cache.DeleteAsync(deleted);
        await cache.SetAsync(updated, "new");
        l1.Clear(); // as if L1 had evicted both while their writes were still queued

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.False(await cache.ExistsAsync(deleted, cts.Token));
        Assert.True(await cache.ExistsAsync(updated, cts.Token));
        Assert.False((await cache.GetAsync<string>(deleted, cts.Token)).HasValue);
        Assert.Equal("new", (await cache.GetAsync<string>(updated, cts.Token)).Value);
        l1.Clear();
        var many = await cache.GetManyAsync<string>([deleted, updated], cts.Token);
        Assert.Equal("new", Assert.Single(many, kv => kv.Key == updated).Value);
        Assert.False(many.ContainsKey(deleted));

        l2.Gate.SetResult();
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.False((await l2.Inner.GetAsync<string>(deleted)).HasValue);
        Assert.Equal("new", (await l2.Inner.GetAsync<string>(updated)).Value);
    }
}
