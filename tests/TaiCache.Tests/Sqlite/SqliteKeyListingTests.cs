using Microsoft.Extensions.Time.Testing;
using TaiCache.Invalidation;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Sqlite;

/// <summary><see cref="SqliteTier.KeysAsync"/>, and pattern invalidation reaching keys only the SQLite L3 holds.</summary>
public sealed class SqliteKeyListingTests : IDisposable
{
    private readonly string _path = SqliteTestFiles.NewPath(nameof(SqliteKeyListingTests));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        SqliteTestFiles.Delete(_path);
    }

    private SqliteTier Open() => new(new SqliteTierOptions { FilePath = _path, TimeProvider = _time, SweepInterval = null });

    [Fact]
    public async Task KeysAsync_ListsLiveMatchingKeysOnce_AcrossPages_WildcardsEscaped()
    {
        await using var tier = Open();
        foreach (var key in new[] { "user:1:a", "user:1:b", "user:1:c", "user:10:a", "user:2:a", "lit*eral", "litXeral", "br[a]ce", "q?x" })
        {
            await tier.SetAsync(key, 1);
        }

        await tier.SetAsync("user:1:gone", 1, TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(["user:1:a", "user:1:b", "user:1:c"], await List(tier.KeysAsync("user:1:*", pageSize: 2)));
        Assert.Equal(["lit*eral"], await List(tier.KeysAsync(@"lit\*eral")));
        Assert.Equal(["lit*eral", "litXeral"], await List(tier.KeysAsync("lit?eral")));
        Assert.Equal(["br[a]ce"], await List(tier.KeysAsync(@"br\[a\]*")));
        Assert.Equal(["q?x"], await List(tier.KeysAsync(@"q\?x")));
        Assert.Equal(["user:10:a", "user:1:a", "user:2:a"], await List(tier.KeysAsync("user:*:a", pageSize: 1)));
        Assert.Equal(9, (await List(tier.KeysAsync())).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => tier.KeysAsync("*", pageSize: 0));
    }

    [Fact]
    public async Task InvalidatePatternAsync_KeysL1EvictedAndKeysFromAnEarlierRun_AreRemovedFromSqlite()
    {
        // An earlier run left keys in the file; this run's manager never saw them written.
        await using (var earlier = Open())
        {
            await earlier.SetAsync("tenant:1:old", "from the last run");
            await earlier.SetAsync("tenant:2:old", "other tenant");
        }

        var options = new MultiTierCacheOptions { TimeProvider = _time };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10, TimeProvider = _time }));
        options.Tiers.Add(Open());
        await using var cache = new MultiTierCache(options);
        await using var manager = new InvalidationManager([cache]);
        for (var i = 0; i < 100; i++)
        {
            await manager.SetAsync($"tenant:1:{i}", i); // L1 holds 10; the manager forgets what L1 evicts
        }

        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("tenant:1:"));

        Assert.True(receipt.Succeeded);
        Assert.Contains("tenant:1:old", receipt.AffectedKeys);
        for (var i = 0; i < 100; i++)
        {
            Assert.False((await cache.GetAsync<int>($"tenant:1:{i}")).HasValue, $"tenant:1:{i} is still cached");
        }

        Assert.False((await cache.GetAsync<string>("tenant:1:old")).HasValue);
        Assert.Equal("other tenant", (await cache.GetAsync<string>("tenant:2:old")).Value);
    }

    private static async Task<List<string>> List(IAsyncEnumerable<string> keys)
    {
        var list = new List<string>();
        await foreach (var key in keys)
        {
            list.Add(key);
        }

        return list;
    }
}
