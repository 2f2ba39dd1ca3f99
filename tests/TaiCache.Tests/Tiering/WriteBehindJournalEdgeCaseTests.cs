using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Edge cases of the SQLite L3 tier and of the write-behind queue with its journal: crash safety, replay, journal
/// upkeep, TTL, drain, and the errors a caller sees. Every test runs on real SQLite files (one per test).
/// </summary>
public sealed class WriteBehindJournalEdgeCaseTests : IDisposable
{
    private readonly JournalTestFiles _files = new(nameof(WriteBehindJournalEdgeCaseTests));

    public void Dispose() => _files.Dispose();

    private string NewFile(string test) => _files.New(test);

    private static string Key(string test) => $"{nameof(WriteBehindJournalEdgeCaseTests)}:{test}:{Guid.NewGuid():N}";

    private static SqliteTier Sqlite(string path, TimeProvider time) =>
        new(new SqliteTierOptions { FilePath = path, SweepInterval = null, TimeProvider = time });

    /// <summary>L1 memory over a SQLite L2 (wrapped to be taken down), write-behind with a journal.</summary>
    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) WriteBehind(string l3Path, string? journal, TimeProvider time, Action<MultiTierCacheOptions>? configure = null)
    {
        var l1 = TierTestKit.Memory("L1", time);
        var l2 = new FaultyTier(Sqlite(l3Path, time));
        var options = new MultiTierCacheOptions { TimeProvider = time, WriteStrategy = WriteStrategy.WriteBehind };
        options.WriteBehind.JournalPath = journal;
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        configure?.Invoke(options);
        return (new MultiTierCache(options), l1, l2);
    }

    private static long JournalRows(string journal, string? key = null)
    {
        using var connection = new SqliteConnection($"Data Source={journal};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = key is null
            ? "SELECT COUNT(*) FROM taicache_write_behind_journal;"
            : "SELECT COUNT(*) FROM taicache_write_behind_journal WHERE key = $key;";
        if (key is not null)
        {
            command.Parameters.AddWithValue("$key", key);
        }

        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Another connection (another process's writer on a shared file) holding the file's write lock.</summary>
    private static SqliteConnection HoldWriteLock(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "BEGIN IMMEDIATE;";
        command.ExecuteNonQuery();
        return connection;
    }


    /// <summary>
    /// A batch the journal refuses because another writer holds the file past the busy timeout fails with
    /// CacheTimeoutException, as a single set does (its transaction's begin leaked SQLite's own exception), and nothing of it is applied.
    /// </summary>
    [Fact]
    public async Task SetManyAsync_JournalLockedByAnotherWriter_FailsWithCacheTimeoutException_NotARawSqliteException()
    {
        var time = TimeProvider.System;
        var journal = NewFile(nameof(SetManyAsync_JournalLockedByAnotherWriter_FailsWithCacheTimeoutException_NotARawSqliteException) + "-journal");
        var (cache, l1, _) = WriteBehind(NewFile("l3"), journal, time);
        await using var scope = cache;
        var key = Key(nameof(SetManyAsync_JournalLockedByAnotherWriter_FailsWithCacheTimeoutException_NotARawSqliteException));

        using (HoldWriteLock(journal))
        {
            var error = await Record.ExceptionAsync(async () => await cache.SetManyAsync([KeyValuePair.Create(key, "v")]));
            Assert.NotNull(error);
            Assert.IsType<CacheTimeoutException>(error);
        }

        Assert.False(l1.TryGet<string>(key, out _)); // nothing applied
    }

    /// <summary>
    /// A batch the flusher wrote leaves the journal even when the journal was busy for a moment as the batch landed (the
    /// journal may be the L3 file, shared with other processes whose sweeps hold its lock for seconds): the removal is
    /// retried (event 4018 meanwhile). Left there, the next start would replay a value already written over whatever
    /// the lower tier holds by then (here another instance's newer write).
    /// </summary>
    [Fact]
    public async Task JournalRowOfAWrittenValue_IsRemovedOnceTheJournalIsFreeAgain_AndNotReplayedOverANewerValue()
    {
        var time = TimeProvider.System;
        var l3Path = NewFile("l3");
        var journal = NewFile(nameof(JournalRowOfAWrittenValue_IsRemovedOnceTheJournalIsFreeAgain_AndNotReplayedOverANewerValue) + "-journal");
        var logger = new FakeLogger();
        var key = Key(nameof(JournalRowOfAWrittenValue_IsRemovedOnceTheJournalIsFreeAgain_AndNotReplayedOverANewerValue));
        var (cache, _, l2) = WriteBehind(l3Path, journal, time, o => o.Logger = logger);
        var (gate, reached) = l2.HoldCallsOn(key);
        await cache.SetAsync(key, "v1");
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the flusher is writing the batch

        using (HoldWriteLock(journal))
        {
            gate.SetResult(); // the batch lands in L2 while the journal is locked
            await TierTestKit.Eventually(() => logger.Collector.GetSnapshot().Any(r => r.Id.Id == 4018), TimeSpan.FromSeconds(30));
        }

        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal("v1", (await l2.Inner.GetAsync<string>(key)).Value);

        // The journal is free again: the written version's row must go (a bounded wait, not a sleep).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (JournalRows(journal, key) != 0 && DateTime.UtcNow < deadline)
        {
            await cache.FlushAsync(TimeSpan.FromSeconds(1));
            await Task.Delay(50);
        }

        var rowsLeft = JournalRows(journal, key);

        // The consequence: another instance writes the key in the shared tier, this process crashes and restarts.
        await l2.Inner.SetAsync(key, "newer, by another instance");
        await cache.WriteBehindQueue!.AbandonAsync();
        await cache.DisposeAsync();
        var (second, _, secondL2) = WriteBehind(l3Path, journal, time);
        await using var scope = second;
        Assert.True((await second.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        Assert.Equal(0, rowsLeft);
        Assert.Equal("newer, by another instance", (await secondL2.Inner.GetAsync<string>(key)).Value);
    }

    /// <summary>
    /// A factory's value is best effort under write-behind (a full queue keeps it in L1 only). When the journal refuses
    /// it (here: its file was deleted), GetOrSetAsync still returns it, as L1 serves it, and the refusal is logged; it threw.
    /// </summary>
    [Fact]
    public async Task GetOrSetAsync_JournalRefusesTheFactoryValue_ReturnsTheValue_InsteadOfThrowingWhileL1KeepsIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var journal = NewFile(nameof(GetOrSetAsync_JournalRefusesTheFactoryValue_ReturnsTheValue_InsteadOfThrowingWhileL1KeepsIt) + "-journal");
        var (cache, l1, _) = WriteBehind(NewFile("l3"), journal, time);
        await using var scope = cache;
        var key = Key(nameof(GetOrSetAsync_JournalRefusesTheFactoryValue_ReturnsTheValue_InsteadOfThrowingWhileL1KeepsIt));
        File.Delete(journal);

        var error = await Record.ExceptionAsync(async () => Assert.Equal("loaded", await cache.GetOrSetAsync(key, _ => ValueTask.FromResult("loaded"))));

        Assert.True(l1.TryGet<string>(key, out var held) && held == "loaded"); // the value is cached either way
        Assert.Null(error);
    }

    /// <summary>
    /// RetryMaxDelay is capped at 1 day by validation (TimeSpan.MaxValue, "no cap", once let the back-off grow past
    /// Task.Delay's limit of about 49.7 days and end the flusher); with the cap, a flusher through a long outage (22
    /// failed rounds on a fake clock) survives and writes once the tier is back.
    /// </summary>
    [Fact]
    public async Task RetryMaxDelay_CappedAtADay_LongOutage_FlusherSurvives_AndWritesOnceTheTierIsBack()
    {
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new WriteBehindOptions { RetryMaxDelay = TimeSpan.MaxValue }.Validate());
        Assert.Equal(nameof(WriteBehindOptions.RetryMaxDelay), refused.ParamName);

        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var key = Key(nameof(RetryMaxDelay_CappedAtADay_LongOutage_FlusherSurvives_AndWritesOnceTheTierIsBack));
        var (cache, _, l2) = WriteBehind(NewFile("l3"), journal: null, time, o =>
        {
            o.CircuitBreakerFailureThreshold = 0; // every round calls the tier
            o.WriteBehind.MaxAttempts = 1_000;
            o.WriteBehind.RetryBaseDelay = TimeSpan.FromMinutes(1);
            o.WriteBehind.RetryMaxDelay = TimeSpan.FromDays(1);
        });
        await using var scope = cache;
        l2.Down = true;
        await cache.SetAsync(key, "acknowledged");

        // 22 failed rounds, each followed by its back-off on the fake clock (every back-off at most 1 day): the clock moves until the tier is called again, or 3 s of real time pass without a call.
        var rounds = 0;
        for (var round = 1; round <= 22; round++)
        {
            var calls = l2.Calls;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (l2.Calls == calls && DateTime.UtcNow < deadline)
            {
                time.Advance(TimeSpan.FromDays(2));
                await Task.Delay(5);
            }

            if (l2.Calls == calls)
            {
                break; // the flusher stopped calling the tier
            }

            rounds = round;
        }

        l2.Down = false;
        var flushed = await TierTestKit.FlushOnFakeClockAsync(cache, time);
        Assert.True(flushed.Completed, $"the flush did not complete after {rounds} failed rounds: {flushed.PendingCount} pending");
        Assert.Equal("acknowledged", (await l2.Inner.GetAsync<string>(key)).Value);
    }

    /// <summary>
    /// A journal path the file system cannot take (a name that fits 255 bytes, but not with ".lock" appended) is reported
    /// with the system's reason, not blamed on a second cache holding the journal.
    /// </summary>
    [Fact]
    public void JournalPathTheFileSystemRefuses_IsNotReportedAsInUseByAnotherCache()
    {
        var folder = Path.Combine(Path.GetTempPath(), "taicache-tests");
        Directory.CreateDirectory(folder);
        var journal = Path.Combine(folder, new string('j', 250) + ".db"); // 253 bytes: a valid name; "+.lock" is 258
        _files.Add(journal);
        var time = TimeProvider.System;

        var error = Assert.Throws<CacheConnectionException>(() => WriteBehind(NewFile("l3"), journal, time));

        Assert.DoesNotContain("in use by another cache", error.Message, StringComparison.Ordinal);
    }


    /// <summary>
    /// A crash right after acknowledged sets and a delete (the lower tier down, only the journal left): the next start
    /// replays them into the SQLite tier, the latest value of a key wins, a value whose TTL ended while no process ran
    /// does not come back (and the older copy below is removed), the delete lands, and the journal ends empty.
    /// </summary>
    [Fact]
    public async Task Crash_JournaledWritesReplayedIntoSqlite_LatestWins_ExpiredStaysGone_DeleteLands_JournalEmptied()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l3Path = NewFile("l3");
        var journal = NewFile(nameof(Crash_JournaledWritesReplayedIntoSqlite_LatestWins_ExpiredStaysGone_DeleteLands_JournalEmptied) + "-journal");
        var latest = Key("latest");
        var expiring = Key("expiring");
        var deleted = Key("deleted");
        await using (var seed = Sqlite(l3Path, time))
        {
            await seed.SetAsync(expiring, "old copy below");
            await seed.SetAsync(deleted, "to be removed");
        }

        var (first, _, l2) = WriteBehind(l3Path, journal, time);
        l2.Down = true;
        await first.SetAsync(latest, "v1");
        await first.SetAsync(latest, "v2");
        await first.SetAsync(expiring, "short", TimeSpan.FromMinutes(1));
        await first.DeleteAsync(deleted); // queued and journaled; L1 did not hold it
        await first.WriteBehindQueue!.AbandonAsync(); // the process dies
        await first.DisposeAsync();

        time.Advance(TimeSpan.FromMinutes(2)); // no process runs
        var (second, l1, secondL2) = WriteBehind(l3Path, journal, time);
        await using var scope = second;
        Assert.Equal("v2", (await second.GetAsync<string>(latest)).Value);
        Assert.False((await second.GetAsync<string>(expiring)).HasValue);
        Assert.False((await second.GetAsync<string>(deleted)).HasValue);
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);

        var l3 = (SqliteTier)secondL2.Inner;
        Assert.Equal("v2", (await l3.GetAsync<string>(latest)).Value);
        Assert.False((await l3.GetAsync<string>(expiring)).HasValue);
        Assert.False((await l3.GetAsync<string>(deleted)).HasValue);
        Assert.False(l1.TryGet<string>(expiring, out _));
        Assert.Equal(0, JournalRows(journal));
    }

    /// <summary>The journal may be the L3 file itself: a crash is replayed from it into the same file's cache table.</summary>
    [Fact]
    public async Task JournalInTheL3File_CrashReplayed_AndTheRowLeavesOnceWritten()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l3Path = NewFile(nameof(JournalInTheL3File_CrashReplayed_AndTheRowLeavesOnceWritten));
        var key = Key(nameof(JournalInTheL3File_CrashReplayed_AndTheRowLeavesOnceWritten));
        var (first, _, l2) = WriteBehind(l3Path, l3Path, time);
        l2.Down = true;
        await first.SetAsync(key, "acknowledged", TimeSpan.FromHours(1));
        await first.WriteBehindQueue!.AbandonAsync();
        await first.DisposeAsync();

        var (second, _, secondL2) = WriteBehind(l3Path, l3Path, time);
        await using var scope = second;
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(second, time)).Completed);
        Assert.Equal("acknowledged", (await secondL2.Inner.GetAsync<string>(key)).Value);
        Assert.Equal(0, JournalRows(l3Path));

        time.Advance(TimeSpan.FromMinutes(61)); // the TTL counted from the original set, not from the replay
        Assert.False((await secondL2.Inner.GetAsync<string>(key)).HasValue);
    }

    /// <summary>On a fake clock: a read after expiry misses at once (before any sweep), the sweep then deletes the row.</summary>
    [Fact]
    public async Task Sqlite_ReadAfterExpiryMisses_BeforeTheSweep_ThenTheSweepRemovesTheRow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = NewFile(nameof(Sqlite_ReadAfterExpiryMisses_BeforeTheSweep_ThenTheSweepRemovesTheRow)), TimeProvider = time, SweepInterval = TimeSpan.FromMinutes(5) });
        var key = Key(nameof(Sqlite_ReadAfterExpiryMisses_BeforeTheSweep_ThenTheSweepRemovesTheRow));
        await tier.SetAsync(key, "v", TimeSpan.FromSeconds(30));
        await tier.SetManyAsync([KeyValuePair.Create(key + ":b", "w")], TimeSpan.FromSeconds(30));

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False((await tier.GetAsync<string>(key)).HasValue);
        Assert.Empty(await tier.GetManyAsync<string>([key, key + ":b"]));
        Assert.False(await tier.ExistsAsync(key));
        Assert.False(await tier.ExpireAsync(key, TimeSpan.FromMinutes(1))); // an expired row does not come back
        Assert.False(await tier.DeleteAsync(key));
        Assert.Equal(0, await tier.CountAsync());
        Assert.Equal(2, await tier.CountAllRowsAsync());

        time.Advance(TimeSpan.FromMinutes(5)); // the sweep timer
        await TierTestKit.Eventually(() => tier.CountAllRowsAsync().AsTask().GetAwaiter().GetResult() == 0);
    }

    /// <summary>A batch with one value over the size limit stores nothing, and says which key.</summary>
    [Fact]
    public async Task Sqlite_BatchWithOneValueTooLarge_StoresNothing()
    {
        await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = NewFile(nameof(Sqlite_BatchWithOneValueTooLarge_StoresNothing)), SweepInterval = null, Serialization = new TaiCache.Serialization.CacheSerializationOptions { MaxValueBytes = 1024, CompressionThresholdBytes = null } });
        var key = Key(nameof(Sqlite_BatchWithOneValueTooLarge_StoresNothing));
        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await tier.SetManyAsync([KeyValuePair.Create(key + ":ok", "small"), KeyValuePair.Create(key + ":big", new string('x', 4096))]));
        Assert.Equal(0, await tier.CountAllRowsAsync());
    }

    /// <summary>
    /// Dispose with the lower tier down: the drain gives up at its deadline, reports the key in LastDrainResult and the
    /// dead-letter sink, keeps it in the journal, and the next start writes it.
    /// </summary>
    [Fact]
    public async Task Dispose_TierDown_DrainReportsTheKeyWithinItsDeadline_JournalKeepsIt_NextStartWritesIt()
    {
        var time = TimeProvider.System;
        var l3Path = NewFile("l3");
        var journal = NewFile(nameof(Dispose_TierDown_DrainReportsTheKeyWithinItsDeadline_JournalKeepsIt_NextStartWritesIt) + "-journal");
        var key = Key(nameof(Dispose_TierDown_DrainReportsTheKeyWithinItsDeadline_JournalKeepsIt_NextStartWritesIt));
        var (first, _, l2) = WriteBehind(l3Path, journal, time, o => o.WriteBehind.DrainTimeout = TimeSpan.FromMilliseconds(500));
        l2.Down = true;
        await first.SetAsync(key, "acknowledged");
        var started = System.Diagnostics.Stopwatch.StartNew();
        await first.DisposeAsync();
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"dispose took {started.Elapsed}");

        var result = first.LastDrainResult!;
        Assert.False(result.Completed);
        Assert.Contains(key, result.UnwrittenKeys);
        var letter = Assert.Single(first.DrainDeadLetters());
        Assert.Equal(key, letter.Key);
        Assert.Equal("acknowledged", letter.Value);
        Assert.Equal(1, JournalRows(journal, key));

        var (second, _, secondL2) = WriteBehind(l3Path, journal, time);
        await using var scope = second;
        Assert.True((await second.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
        Assert.Equal("acknowledged", (await secondL2.Inner.GetAsync<string>(key)).Value);
    }

    /// <summary>One writer's increasing values to one key, coalesced while the SQLite tier is slow: it never goes back.</summary>
    [Fact]
    public async Task Coalescing_SqliteNeverSeesAnOlderValueAfterANewerOne()
    {
        var time = TimeProvider.System;
        var key = Key(nameof(Coalescing_SqliteNeverSeesAnOlderValueAfterANewerOne));
        var (cache, _, l2) = WriteBehind(NewFile("l3"), journal: null, time);
        await using var scope = cache;
        var seen = new List<int>();
        l2.OnWrite = (k, v) =>
        {
            if (k == key)
            {
                lock (seen)
                {
                    seen.Add((int)v!);
                }
            }
        };
        l2.Delay = TimeSpan.FromMilliseconds(2);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 1; i <= 300; i++)
            {
                await cache.SetAsync(w == 0 ? key : key + ":" + w, i); // one writer of the key, others in the same batches
            }
        })).ToArray();
        await Task.WhenAll(writers);
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

        Assert.Equal(300, (await l2.Inner.GetAsync<int>(key)).Value);
        lock (seen)
        {
            for (var i = 1; i < seen.Count; i++)
            {
                Assert.True(seen[i] > seen[i - 1], $"L2 got {seen[i]} after {seen[i - 1]}");
            }
        }
    }
}
