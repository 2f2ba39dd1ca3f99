using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// The write-behind journal's group commit: concurrent single writes share SQLite transactions, every acknowledged write
/// survives a crash with each key's latest version, and a write whose shared commit fails is taken back (the queue holds
/// again the version it replaced) before its caller hears of it. Real SQLite files, one per test.
/// </summary>
public sealed class WriteBehindGroupCommitTests : IDisposable
{
    private readonly JournalTestFiles _files = new(nameof(WriteBehindGroupCommitTests));

    public void Dispose() => _files.Dispose();

    private string NewFile(string name) => _files.New(name);

    private static string Key(string test, object suffix) => $"{nameof(WriteBehindGroupCommitTests)}:{test}:{suffix}";

    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) Build(string l2Path, string journal, TimeProvider? time = null)
    {
        var l1 = TierTestKit.Memory("L1");
        var l2 = new FaultyTier(new SqliteTier(new SqliteTierOptions { FilePath = l2Path, SweepInterval = null }));
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind };
        options.WriteBehind.JournalPath = journal;
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        options.TimeProvider = time ?? TimeProvider.System;
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l1, l2);
    }

    [Fact]
    public async Task ConcurrentWriters_EveryAcknowledgedWriteSurvivesACrash_WithEachKeysLatestVersion()
    {
        const string test = nameof(ConcurrentWriters_EveryAcknowledgedWriteSurvivesACrash_WithEachKeysLatestVersion);
        var l2Path = NewFile("l2");
        var journal = NewFile("journal");
        var (first, _, l2) = Build(l2Path, journal);
        l2.Down = true; // nothing reaches L2: only the journal keeps the writes

        // 64 writers, each writing its own keys' versions in order, all at once: their rows share commits.
        await Task.WhenAll(Enumerable.Range(0, 64).Select(w => Task.Run(async () =>
        {
            for (var version = 1; version <= 5; version++)
            {
                for (var k = 0; k < 4; k++)
                {
                    await first.SetAsync(Key(test, $"{w}:{k}"), version);
                }
            }

            await first.DeleteAsync(Key(test, $"{w}:gone"));
        })));
        await first.WriteBehindQueue!.AbandonAsync(); // the process dies before any flush
        await first.DisposeAsync();

        var (second, _, secondL2) = Build(l2Path, journal);
        await using var scope = second;
        Assert.True((await second.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        for (var w = 0; w < 64; w++)
        {
            for (var k = 0; k < 4; k++)
            {
                var stored = await secondL2.Inner.GetAsync<int>(Key(test, $"{w}:{k}"));
                Assert.True(stored.HasValue, $"writer {w} key {k} lost");
                Assert.Equal(5, stored.Value);
            }
        }
    }

    [Fact]
    public async Task SharedCommitRefused_TheWriteIsTakenBack_TheVersionItReplacedIsQueuedAgain_AndFlushed()
    {
        const string test = nameof(SharedCommitRefused_TheWriteIsTakenBack_TheVersionItReplacedIsQueuedAgain_AndFlushed);
        var l2Path = NewFile("l2");
        var journal = NewFile("journal");
        var (cache, l1, l2) = Build(l2Path, journal);
        await using var scope = cache;
        var replaced = Key(test, "replaced");
        var fresh = Key(test, "fresh");
        l2.Down = true;
        await cache.SetAsync(replaced, "v1"); // queued and journaled

        Exception?[] errors;
        using (var other = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            other.Open();
            using var begin = other.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE;"; // another writer holds the file past the journal's busy timeout
            begin.ExecuteNonQuery();
            errors = await Task.WhenAll(
                Record.ExceptionAsync(async () => await cache.SetAsync(replaced, "v2")),
                Record.ExceptionAsync(async () => await cache.SetAsync(fresh, "never acknowledged")));
        }

        Assert.All(errors, e => Assert.IsType<CacheTimeoutException>(e));
        Assert.Equal(replaced, ((CacheException)errors[0]!).Key); // each names its own key
        Assert.Equal(fresh, ((CacheException)errors[1]!).Key);
        Assert.False(l1.TryGet<string>(replaced, out _)); // L1 forgot the refused value
        Assert.Equal("v1", (await cache.GetAsync<string>(replaced)).Value); // the queue answers with the version kept
        Assert.False((await cache.GetAsync<string>(fresh)).HasValue);

        l2.Down = false;
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        Assert.Equal("v1", (await l2.Inner.GetAsync<string>(replaced)).Value);
        Assert.False((await l2.Inner.GetAsync<string>(fresh)).HasValue); // the flusher wrote no refused version
    }

    /// <summary>
    /// A factory's value loaded while a delete's shared commit is under way takes the delete's place in the queue (as a
    /// plain set: the lower tiers may hold the removed value). When that commit then fails, the delete is taken back,
    /// and the value it replaced (the caller's acknowledged set) must be what the queue holds again, not the factory's
    /// value, which was loaded only because of a removal that never happened. It was the factory's: the caller's set was
    /// lost, though the delete that would have superseded it was refused.
    /// </summary>
    [Fact]
    public async Task FactoryValueLoadedDuringARefusedDelete_DoesNotReplaceTheSetTheDeleteWouldHaveReplaced()
    {
        const string test = nameof(FactoryValueLoadedDuringARefusedDelete_DoesNotReplaceTheSetTheDeleteWouldHaveReplaced);
        var l2Path = NewFile("l2");
        var journal = NewFile("journal");
        // The flusher's clock is fake: after its first failed attempt at the set it waits on it, so it neither writes
        // nor dead-letters anything while the delete's commit is under way (a flush at the end wakes it).
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2) = Build(l2Path, journal, time);
        await using var scope = cache;
        var key = Key(test, "k");
        l2.Down = true;
        await cache.SetAsync(key, "acknowledged set"); // queued and journaled
        await TierTestKit.Eventually(() => cache.WriteBehindQueue!.FindUnwritten(key) is { Attempts: 1 }); // queued again after a failed attempt

        Exception? deleteError;
        string loaded;
        using (var other = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            other.Open();
            using var begin = other.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE;"; // another writer holds the file: the delete's commit waits, then fails
            begin.ExecuteNonQuery();

            var delete = Task.Run(async () => await cache.DeleteAsync(key));
            await TierTestKit.Eventually(() => cache.WriteBehindQueue!.FindUnwritten(key) is { Operation: WriteBehindOperation.Delete });
            var refusedDelete = cache.WriteBehindQueue!.FindUnwritten(key)!;

            // A read misses behind the queued delete and loads; the factory's value goes to the queue in the delete's place.
            var read = Task.Run(async () => await cache.GetOrSetAsync(key, _ => ValueTask.FromResult("factory")));
            await TierTestKit.Eventually(() => refusedDelete.IsUnjournaled, TimeSpan.FromSeconds(30)); // the delete's commit failed
            begin.CommandText = "ROLLBACK;"; // the file is free again: the factory's value is journaled
            begin.ExecuteNonQuery();
            deleteError = await Record.ExceptionAsync(() => delete);
            loaded = await read;
        }

        Assert.IsType<CacheTimeoutException>(deleteError);
        Assert.Equal("factory", loaded); // the read itself saw the removal (the L1 copy is gone once it is taken back)
        l2.Down = false;
        time.Advance(TimeSpan.FromMinutes(5)); // past L2's circuit break
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        Assert.Equal("acknowledged set", (await cache.GetAsync<string>(key)).Value);
        Assert.Equal("acknowledged set", (await l2.Inner.GetAsync<string>(key)).Value);
    }
}
