using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>What a replayed write-behind journal keeps of how each write was asked for: a factory's value stays one, memory options stay.</summary>
public sealed class WriteBehindJournalReplayTests
{
    /// <summary>Builds a write-behind cache over a journal; <paramref name="l2Before"/> runs on L2 before the cache starts (and replays).</summary>
    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) Build(string journal, FakeTimeProvider time, Action<FaultyTier> l2Before)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o =>
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind.JournalPath = journal;
            l2Before((FaultyTier)o.Tiers[1]);
        }, time);
        return (cache, l1, l2);
    }

    [Fact]
    public async Task FactoryValueReplayed_YieldsToAValueAnotherInstanceWroteBelowMeanwhile()
    {
        await WithJournalAsync(async (path, time) =>
        {
            var key = TierTestKit.Key(this);
            var (first, _, _) = Build(path, time, l2 => l2.Down = true);
            Assert.Equal("loaded", await first.GetOrSetAsync(key, _ => ValueTask.FromResult("loaded")));
            Assert.Equal(1, first.WriteBehindQueueDepth); // the factory's value waits for L2, journaled
            await first.WriteBehindQueue!.AbandonAsync(); // the process dies before the flush
            await first.DisposeAsync();

            // Meanwhile another instance wrote the key where the first one's value was headed.
            var (second, l1, l2) = Build(path, time, l2 => l2.Inner.SetAsync(key, "newer").AsTask().GetAwaiter().GetResult());
            await using var scope = second;
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);

            Assert.Equal("newer", (await l2.Inner.GetAsync<string>(key)).Value); // a plain set would have put "loaded" back over it
            Assert.False(l1.TryGet<string>(key, out _)); // the value that yielded leaves L1 too
            Assert.Equal("newer", (await second.GetAsync<string>(key)).Value);
        });
    }

    [Fact]
    public async Task FactoryValueThatExpiredWhileNoProcessRan_IsDropped_AndLeavesTheLowerTiersValueAlone()
    {
        await WithJournalAsync(async (path, time) =>
        {
            var key = TierTestKit.Key(this);
            var (first, _, _) = Build(path, time, l2 => l2.Down = true);
            var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(2) };
            await first.GetOrSetAsync(key, _ => ValueTask.FromResult("loaded"), options);
            await first.WriteBehindQueue!.AbandonAsync();
            await first.DisposeAsync();

            time.Advance(TimeSpan.FromMinutes(5));
            var (second, _, l2) = Build(path, time, l2 => l2.Inner.SetAsync(key, "newer").AsTask().GetAwaiter().GetResult());
            await using var scope = second;

            Assert.Equal(0, second.WriteBehindQueueDepth);
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
            Assert.Equal("newer", (await l2.Inner.GetAsync<string>(key)).Value); // a caller's expired set removes it; a fill does not
        });
    }

    [Fact]
    public async Task WriteReplayed_KeepsSkipMemoryWrite_AndItsLocalTtl()
    {
        await WithJournalAsync(async (path, time) =>
        {
            var notInMemory = TierTestKit.Key(this);
            var shortInMemory = TierTestKit.Key(this);
            var (first, _, _) = Build(path, time, l2 => l2.Down = true);
            await first.SetAsync(notInMemory, "below only", new MultiTierEntryOptions { SkipMemoryWrite = true });
            await first.SetAsync(shortInMemory, "short in L1", new MultiTierEntryOptions { Ttl = TimeSpan.FromHours(1), LocalTtl = TimeSpan.FromMinutes(1) });
            await first.WriteBehindQueue!.AbandonAsync();
            await first.DisposeAsync();

            var (second, l1, l2) = Build(path, time, _ => { });
            await using var scope = second;
            Assert.False(l1.TryGet<string>(notInMemory, out _));
            Assert.True(l1.TryGet<string>(shortInMemory, out _));
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);

            time.Advance(TimeSpan.FromMinutes(2));
            Assert.False(l1.TryGet<string>(shortInMemory, out _)); // its L1 TTL, not the hour it has below
            Assert.Equal("below only", (await l2.Inner.GetAsync<string>(notInMemory)).Value);
            Assert.Equal("short in L1", (await l2.Inner.GetAsync<string>(shortInMemory)).Value);
        });
    }

    [Fact]
    public async Task WriteReplayed_ItsLocalTtlCountsFromTheWrite_NotFromTheRestart()
    {
        await WithJournalAsync(async (path, time) =>
        {
            var longer = TierTestKit.Key(this);
            var ended = TierTestKit.Key(this);
            var (first, _, _) = Build(path, time, l2 => l2.Down = true);
            await first.SetAsync(longer, "ten minutes in L1", new MultiTierEntryOptions { Ttl = TimeSpan.FromHours(1), LocalTtl = TimeSpan.FromMinutes(10) });
            await first.SetAsync(ended, "three minutes in L1", new MultiTierEntryOptions { Ttl = TimeSpan.FromHours(1), LocalTtl = TimeSpan.FromMinutes(3) });
            await first.WriteBehindQueue!.AbandonAsync();
            await first.DisposeAsync();

            time.Advance(TimeSpan.FromMinutes(4)); // no process runs
            var (second, l1, l2) = Build(path, time, _ => { });
            await using var scope = second;
            Assert.True(l1.TryGet<string>(longer, out _));
            Assert.False(l1.TryGet<string>(ended, out _)); // its L1 TTL ended while no process ran
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
            Assert.Equal("three minutes in L1", (await l2.Inner.GetAsync<string>(ended)).Value); // still written below

            time.Advance(TimeSpan.FromMinutes(6) + TimeSpan.FromSeconds(1));
            Assert.False(l1.TryGet<string>(longer, out _)); // ten minutes after the write, not after the restart
            Assert.Equal("ten minutes in L1", (await l2.Inner.GetAsync<string>(longer)).Value);
        });
    }

    [Fact]
    public async Task FactoryValueLoadedAfterAQueuedRemoval_IsQueuedInItsPlace_AndSurvivesACrash()
    {
        await WithJournalAsync(async (path, time) =>
        {
            var key = TierTestKit.Key(this);
            var (first, _, firstL2) = Build(path, time, l2 => l2.Inner.SetAsync(key, "removed").AsTask().GetAwaiter().GetResult());
            firstL2.Down = true; // the removal stays queued (or in flight): the flusher must not write it before the crash
            await first.DeleteAsync(key); // queued, L2 still holds the old value
            Assert.Equal("loaded", await first.GetOrSetAsync(key, _ => ValueTask.FromResult("loaded"), new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(5) }));
            await first.WriteBehindQueue!.AbandonAsync(); // a crash: only the journal is left
            await first.DisposeAsync();

            // The L2 of the first instance, as the crash left it, under a new process.
            var (second, _, l2) = Build(path, time, l2 => l2.Inner.SetAsync(key, "removed").AsTask().GetAwaiter().GetResult());
            await using var scope = second;
            Assert.Equal("loaded", (await second.GetAsync<string>(key)).Value);
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
            Assert.Equal("loaded", (await l2.Inner.GetAsync<string>(key)).Value); // written over the removed value, not yielding to it
        });
    }

    [Theory]
    [InlineData("flags", "local_ttl_ticks")]
    [InlineData("local_ttl_ticks")] // an upgrade cut off between its two statements
    public async Task JournalFromBeforeFlagsWereKept_IsUpgraded_AndItsRowsReplayAsPlainSets(params string[] missing)
    {
        await WithJournalAsync(async (path, time) =>
        {
            var key = TierTestKit.Key(this);
            var (first, _, _) = Build(path, time, l2 => l2.Down = true);
            await first.SetAsync(key, "acknowledged");
            await first.WriteBehindQueue!.AbandonAsync();
            await first.DisposeAsync();
            DropColumns(path, missing); // as an older TaiCache left it

            var (second, l1, l2) = Build(path, time, _ => { });
            await using var scope = second;
            Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
            Assert.Equal("acknowledged", (await l2.Inner.GetAsync<string>(key)).Value);
            Assert.True(l1.TryGet<string>(key, out _));
        });
    }

    /// <summary>Runs a test over a fresh journal file on a fake clock, and deletes the file after.</summary>
    private static async Task WithJournalAsync(Func<string, FakeTimeProvider, Task> test)
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            await test(path, new FakeTimeProvider(DateTimeOffset.UtcNow));
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }

    private static void DropColumns(string path, params string[] columns)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        foreach (var column in columns)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"ALTER TABLE taicache_write_behind_journal DROP COLUMN {column};";
            command.ExecuteNonQuery();
        }
    }
}
