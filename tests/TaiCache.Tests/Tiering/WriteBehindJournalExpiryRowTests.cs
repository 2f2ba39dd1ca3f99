using Microsoft.Data.Sqlite;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// The journal keeps one row per key, so a row written for a key takes the place of the row of whatever version of it
/// is still unwritten. An expiry a lower tier failed, queued behind a write the flusher is writing, must not take the
/// place of that write's row (a crash would lose the write), and an expiry the journal refuses must leave the queued
/// value as it was. Real SQLite files, one per test.
/// </summary>
public sealed class WriteBehindJournalExpiryRowTests : IDisposable
{
    private readonly JournalTestFiles _files = new(nameof(WriteBehindJournalExpiryRowTests));

    public void Dispose() => _files.Dispose();

    private string NewFile(string name) => _files.New(name);

    private static string Key(string test) => $"{nameof(WriteBehindJournalExpiryRowTests)}:{test}:{Guid.NewGuid():N}";

    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) Build(string l2Path, string journal)
    {
        var l1 = TierTestKit.Memory("L1");
        var l2 = new FaultyTier(new SqliteTier(new SqliteTierOptions { FilePath = l2Path, SweepInterval = null }));
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind, CircuitBreakerFailureThreshold = 0 };
        options.WriteBehind.JournalPath = journal;
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l1, l2);
    }

    /// <summary>
    /// A delete the flusher is writing when an <c>ExpireAsync</c> of the key fails in L2: the expiry queued for the retry
    /// replaced the delete's journal row, so a crash before the delete landed brought the deleted value back after the
    /// restart (only the expiry was replayed, and L2 still held the value).
    /// </summary>
    [Fact]
    public async Task ExpiryFailedWhileADeleteIsBeingWritten_CrashBeforeTheDeleteLands_TheDeleteIsStillReplayed()
    {
        var l2Path = NewFile("l2");
        var journal = NewFile("journal");
        var key = Key(nameof(ExpiryFailedWhileADeleteIsBeingWritten_CrashBeforeTheDeleteLands_TheDeleteIsStillReplayed));
        var (first, _, l2) = Build(l2Path, journal);
        await first.SetAsync(key, "deleted by the caller");
        Assert.True((await first.FlushAsync(TimeSpan.FromSeconds(20))).Completed); // L2 holds the value

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var callsBefore = l2.Calls;
        l2.Gate = gate; // every L2 call waits: the flusher's delete
        Assert.True(await first.DeleteAsync(key)); // acknowledged: queued and journaled
        await TierTestKit.Eventually(() => l2.Calls > callsBefore); // the flusher is writing the delete
        l2.Gate = null;
        l2.Down = true; // the expiry's L2 call fails: it is queued for the flusher

        await first.ExpireAsync(key, TimeSpan.FromHours(1));
        await first.WriteBehindQueue!.AbandonAsync(); // the process dies before the delete landed
        await first.DisposeAsync();
        gate.TrySetResult();

        var (second, _, _) = Build(l2Path, journal);
        await using var scope = second;
        Assert.True((await second.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.False((await second.GetAsync<string>(key)).HasValue);
    }

    /// <summary>
    /// An <c>ExpireAsync</c> of a queued value that the journal refuses (here a trigger another connection put on the
    /// table; a locked or failing file alike) fails, and changes nothing: the queued value kept the new TTL though the
    /// caller heard of the failure (and L1 and the journal kept the old one), so the flusher wrote it to L2 with the
    /// TTL of a call that had failed.
    /// </summary>
    [Fact]
    public async Task ExpireOfAQueuedValue_RefusedByTheJournal_Fails_AndTheQueuedValueKeepsItsTtl()
    {
        var journal = NewFile("journal");
        var key = Key(nameof(ExpireOfAQueuedValue_RefusedByTheJournal_Fails_AndTheQueuedValueKeepsItsTtl));
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind.JournalPath = journal;
            o.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        });
        await using var scope = cache;
        l2.Down = true; // the value waits in the queue
        await cache.SetAsync(key, "v", TimeSpan.FromHours(1));

        RunOnJournal(journal, "CREATE TRIGGER refuse_ttl BEFORE UPDATE OF ttl_ticks ON taicache_write_behind_journal BEGIN SELECT RAISE(ABORT, 'injected refusal'); END;");
        var error = await Record.ExceptionAsync(async () => await cache.ExpireAsync(key, TimeSpan.FromMinutes(1)));
        RunOnJournal(journal, "DROP TRIGGER refuse_ttl;");

        l2.Down = false;
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.IsAssignableFrom<CacheException>(error);
        Assert.True(((InMemoryTier)l2.Inner).GetRemainingTtl(key) > TimeSpan.FromMinutes(30)); // the set's hour, not the refused minute
    }

    private static void RunOnJournal(string journal, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={journal};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
