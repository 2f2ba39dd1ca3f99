using Microsoft.Data.Sqlite;
using TaiCache.Sqlite;

namespace TaiCache.Tests.Interop;

/// <summary>Audit (session 33, b): rows of the SQLite file as another program writes them, as docs/sqlite.md and docs/format.md describe them.</summary>
public sealed class SqliteInteropEdgeCaseTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "taicache-tests", $"{nameof(SqliteInteropEdgeCaseTests)}-{Guid.NewGuid():N}.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// docs/sqlite.md: the row's <c>expires_at</c> (Unix ms) is the row's expiry; docs/format.md: the envelope's expiry
    /// field is optional ("present only when flag bit 1 is set"). Another program writes a row as documented: an
    /// envelope without the field and <c>expires_at</c> one minute ahead. TaiCache serves it until that minute is up, but
    /// its hit says it never expires (ExpiresAt null), so a multi-tier cache's upper tiers copy it without that cap.
    /// </summary>
    [Fact]
    public async Task GetAsync_RowAnotherProgramWroteWithExpiresAt_ReportsTheRowsExpiry()
    {
        await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null });
        await tier.SetAsync("warmup", 1); // the file and its table exist

        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds();
        using (var other = new SqliteConnection($"Data Source={_path};Pooling=False"))
        {
            other.Open();
            using var insert = other.CreateCommand();
            insert.CommandText = "INSERT INTO taicache_entries (key, value, expires_at) VALUES ($k, $v, $e);";
            insert.Parameters.AddWithValue("$k", "price:42");
            insert.Parameters.AddWithValue("$v", new byte[] { 0x54, 0x43, 1, 1, 0, 0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0 }); // 'TC' v1 MessagePack, no flags, float64 1.5
            insert.Parameters.AddWithValue("$e", expiresAt);
            insert.ExecuteNonQuery();
        }

        var hit = await tier.GetAsync<double>("price:42");
        Assert.True(hit.HasValue);
        Assert.Equal(1.5, hit.Value);
        Assert.NotNull(hit.ExpiresAt);
        Assert.InRange(hit.ExpiresAt!.Value.ToUnixTimeMilliseconds(), expiresAt - 1000, expiresAt);
    }

    /// <summary>Another program shortens a TaiCache row's <c>expires_at</c> (an <c>UPDATE</c>, as docs/sqlite.md's schema
    /// allows): TaiCache drops the row at the new time, but until then reports the hit's old, later expiry.</summary>
    [Fact]
    public async Task GetAsync_RowWhoseExpiresAtAnotherProgramShortened_ReportsTheShorterExpiry()
    {
        await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null });
        await tier.SetAsync("session:7", "alice", TimeSpan.FromHours(1));

        var shortened = DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds();
        using (var other = new SqliteConnection($"Data Source={_path};Pooling=False"))
        {
            other.Open();
            using var update = other.CreateCommand();
            update.CommandText = "UPDATE taicache_entries SET expires_at = $e WHERE key = 'session:7';";
            update.Parameters.AddWithValue("$e", shortened);
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        var hit = await tier.GetAsync<string>("session:7");
        Assert.Equal("alice", hit.Value);
        Assert.True(hit.ExpiresAt!.Value.ToUnixTimeMilliseconds() <= shortened, $"reported {hit.ExpiresAt}, the row expires at {DateTimeOffset.FromUnixTimeMilliseconds(shortened)}");
    }
}
