using Microsoft.Data.Sqlite;
using TaiCache.Tests.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A journal file whose table is damaged (its schema readable, its rows not) fails the cache's construction with the
/// library's <see cref="CacheConnectionException"/> naming the file, as an unopenable journal does: the replay's read
/// let SQLite's own exception out.
/// </summary>
public sealed class WriteBehindJournalCorruptTests : IDisposable
{
    private readonly string _journal = SqliteTestFiles.NewPath(nameof(WriteBehindJournalCorruptTests));

    public void Dispose()
    {
        TierTestKit.DeleteJournal(_journal);
        SqliteTestFiles.Delete(_journal);
    }

    private MultiTierCache Build(FaultyTier l2)
    {
        var options = new MultiTierCacheOptions { WriteStrategy = WriteStrategy.WriteBehind };
        options.WriteBehind.JournalPath = _journal;
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(l2);
        return new MultiTierCache(options);
    }

    [Fact]
    public async Task JournalWithDamagedRows_FailsConstruction_WithCacheConnectionException_NotARawSqliteException()
    {
        var l2 = new FaultyTier(TierTestKit.Memory("L2")) { Down = true }; // the rows stay in the journal
        var first = Build(l2);
        for (var i = 0; i < 200; i++)
        {
            await first.SetAsync(TierTestKit.Key(this) + i, new string('x', 200)); // rows over several pages
        }

        await first.WriteBehindQueue!.AbandonAsync();
        await first.DisposeAsync();
        SqliteConnection.ClearAllPools();

        // Every page after the first (which holds the schema) overwritten: the table's rows are garbage.
        var bytes = File.ReadAllBytes(_journal);
        Assert.True(bytes.Length > 8192);
        Array.Fill(bytes, (byte)0xA5, 4096, bytes.Length - 4096);
        File.WriteAllBytes(_journal, bytes);

        var error = Record.Exception(() => Build(new FaultyTier(TierTestKit.Memory("L2"))));

        var refused = Assert.IsType<CacheConnectionException>(error);
        Assert.Contains(_journal, refused.Message, StringComparison.Ordinal);
        Assert.IsType<SqliteException>(refused.InnerException);
    }
}
