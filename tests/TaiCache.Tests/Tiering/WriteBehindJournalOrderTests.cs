using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Order under the journal's shared commits: many writers of the same keys at once (their rows share commits, which a
/// queued commit writes when several writers wait), sets and deletes mixed, with the flusher writing those keys
/// meanwhile or a lower tier down, then a crash. Whatever L1 held last (the last write queued, as L1 is written under
/// the queue's lock in queue order) is what the lower tier holds after the replay: never an older value, never a
/// deleted one back. And a journal file another connection holds does not hold the queue's lock while the flusher
/// waits for it. Real SQLite files, one per test.
/// </summary>
public sealed class WriteBehindJournalOrderTests : IDisposable
{
    private const int Writers = 32;
    private const int Rounds = 40;
    private readonly JournalTestFiles _files = new(nameof(WriteBehindJournalOrderTests));

    public void Dispose() => _files.Dispose();

    private static string Key(string test, object suffix) => $"{nameof(WriteBehindJournalOrderTests)}:{test}:{suffix}";

    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) Build(string l2Path, string journal, int batchSize = 500)
    {
        var l1 = TierTestKit.Memory("L1");
        var l2 = new FaultyTier(new SqliteTier(new SqliteTierOptions { FilePath = l2Path, SweepInterval = null }));
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind };
        options.WriteBehind.JournalPath = journal;
        options.WriteBehind.BatchSize = batchSize;
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l1, l2);
    }

    /// <summary>Writers racing on a few keys: each sets its own values, and every fifth write of each is a delete.</summary>
    private static Task RaceAsync(MultiTierCache cache, string[] keys) =>
        Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                var key = keys[(w + i) % keys.Length];
                if (i % 5 == 4)
                {
                    await cache.DeleteAsync(key);
                }
                else
                {
                    await cache.SetAsync(key, $"{w}:{i}");
                }
            }
        })));

    /// <summary>What L1 holds of each key: the last write queued (a removal reads as null).</summary>
    private static Dictionary<string, string?> LastQueued(InMemoryTier l1, string[] keys) =>
        keys.ToDictionary(k => k, k => l1.TryGet<string>(k, out var value) ? value : null);

    private static async Task AssertHoldsAsync(FaultyTier l2, Dictionary<string, string?> expected)
    {
        foreach (var (key, value) in expected)
        {
            var stored = await l2.Inner.GetAsync<string>(key);
            Assert.Equal(value, stored.HasValue ? stored.Value : null);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WritersRacingOnOneKey_SetsAndDeletes_ReplayAfterACrash_EndsWithTheLastQueuedWrite(bool lowerTierDown)
    {
        const string test = nameof(WritersRacingOnOneKey_SetsAndDeletes_ReplayAfterACrash_EndsWithTheLastQueuedWrite);
        var l2Path = _files.New("l2");
        var journal = _files.New("journal");

        // A small batch size: with the tier up, the flusher takes the keys again and again while the writers race.
        var (first, l1, l2) = Build(l2Path, journal, batchSize: 2);
        l2.Down = lowerTierDown;
        var keys = Enumerable.Range(0, 3).Select(k => Key(test, $"{lowerTierDown}:{k}")).ToArray();
        await RaceAsync(first, keys);
        var expected = LastQueued(l1, keys);
        await first.WriteBehindQueue!.AbandonAsync(); // the process dies: what the flusher had not written is in the journal only
        await first.DisposeAsync();

        var (second, _, secondL2) = Build(l2Path, journal);
        await using var scope = second;
        Assert.True((await second.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        await AssertHoldsAsync(secondL2, expected);
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value, (await second.GetAsync<string>(key)) is { HasValue: true } hit ? hit.Value : null);
        }
    }

    [Fact]
    public async Task FlusherWritingKeysWritersRaceOn_TheLowerTierEndsWithTheLastQueuedWrite()
    {
        const string test = nameof(FlusherWritingKeysWritersRaceOn_TheLowerTierEndsWithTheLastQueuedWrite);
        var (cache, l1, l2) = Build(_files.New("l2"), _files.New("journal"), batchSize: 1);
        await using var scope = cache;
        var keys = Enumerable.Range(0, 4).Select(k => Key(test, k)).ToArray();
        await RaceAsync(cache, keys);
        var expected = LastQueued(l1, keys);

        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        await AssertHoldsAsync(l2, expected);
    }

    /// <summary>
    /// Another connection holds the journal's file (a sweep of a shared L3 file, say) while a write waits for its commit
    /// and the flusher, woken by that write, waits to journal it before writing it: the flusher waits with the queue's
    /// lock released, so the queue answers meanwhile (it held the lock for the whole busy wait, up to 5 s, and every
    /// writer and L1-missing read waited behind it). The refused write is taken back, and the flusher writes nothing of it.
    /// </summary>
    [Fact]
    public async Task JournalFileBusy_TheFlusherWaitingToJournalAWrite_DoesNotHoldTheQueue()
    {
        const string test = nameof(JournalFileBusy_TheFlusherWaitingToJournalAWrite_DoesNotHoldTheQueue);
        var journal = _files.New("journal");
        var (cache, l1, l2) = Build(_files.New("l2"), journal);
        await using var scope = cache;
        var key = Key(test, "refused");
        await cache.SetAsync(key, "v1");
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(30))).Completed);

        Exception? refusal;
        TimeSpan slowest = TimeSpan.Zero;
        using (var other = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            other.Open();
            using var begin = other.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE;"; // held past the journal's busy timeout (5 s)
            begin.ExecuteNonQuery();
            var write = Task.Run(() => Record.ExceptionAsync(async () => await cache.SetAsync(key, "v2")));

            // Meanwhile the queue answers at once, again and again, while the flusher waits for the file.
            var until = Stopwatch.StartNew();
            while (!write.IsCompleted && until.Elapsed < TimeSpan.FromSeconds(20))
            {
                var asked = Stopwatch.StartNew();
                _ = cache.WriteBehindQueueDepth;
                slowest = asked.Elapsed > slowest ? asked.Elapsed : slowest;
                await Task.Delay(50);
            }

            refusal = await write;
        }

        Assert.IsType<CacheTimeoutException>(refusal);
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"the queue was held {slowest.TotalMilliseconds:F0} ms");
        Assert.False(l1.TryGet<string>(key, out _)); // the refused value left L1
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        Assert.Equal("v1", (await l2.Inner.GetAsync<string>(key)).Value); // the flusher wrote no refused version
    }
    /// <summary>
    /// Many writers refused at once: their rows wait for commits the thread pool makes behind them (several writers
    /// waiting), and those commits fail on a file another connection holds. Every writer hears of it, and each key's
    /// queued version is the one its refused write replaced, which is what the flusher writes.
    /// </summary>
    [Fact]
    public async Task ManyWritersRefusedTogether_EachIsTakenBack_TheVersionsTheyReplacedAreFlushed()
    {
        const string test = nameof(ManyWritersRefusedTogether_EachIsTakenBack_TheVersionsTheyReplacedAreFlushed);
        var journal = _files.New("journal");
        var (cache, l1, l2) = Build(_files.New("l2"), journal);
        await using var scope = cache;
        var keys = Enumerable.Range(0, 16).Select(k => Key(test, k)).ToArray();
        l2.Down = true;
        foreach (var key in keys)
        {
            await cache.SetAsync(key, "v1");
        }

        Exception?[] errors;
        using (var other = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            other.Open();
            using var begin = other.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
            errors = await Task.WhenAll(keys.Select(key => Task.Run(() => Record.ExceptionAsync(async () => await cache.SetAsync(key, "v2")))));
        }

        Assert.All(errors, e => Assert.IsType<CacheTimeoutException>(e));
        foreach (var key in keys)
        {
            Assert.False(l1.TryGet<string>(key, out _));
            Assert.Equal("v1", (await cache.GetAsync<string>(key)).Value);
        }

        l2.Down = false;
        Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(30))).Completed);
        foreach (var key in keys)
        {
            Assert.Equal("v1", (await l2.Inner.GetAsync<string>(key)).Value);
        }
    }
}
