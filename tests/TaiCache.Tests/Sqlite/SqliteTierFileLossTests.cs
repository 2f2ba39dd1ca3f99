using TaiCache.Sqlite;

namespace TaiCache.Tests.Sqlite;

/// <summary>The tier's file deleted or replaced under the open connection: writes fail loudly instead of going nowhere.</summary>
public sealed class SqliteTierFileLossTests : IDisposable
{
    private readonly string _path = SqliteTestFiles.NewPath(nameof(SqliteTierFileLossTests));

    public void Dispose() => SqliteTestFiles.Delete(_path);

    [Fact]
    public async Task SetAsync_FileDeletedWhileOpen_ThrowsCacheConnectionException_AndEveryLaterCallToo()
    {
        var key = $"{nameof(SqliteTierFileLossTests)}:{Guid.NewGuid():N}";
        await using (var tier = new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null }))
        {
            await tier.SetAsync(key + 1, "before");
            File.Delete(_path);

            // SQLite would take this write into the unlinked file and acknowledge it; it would be gone at the next open.
            var e = await Assert.ThrowsAsync<CacheConnectionException>(() => tier.SetAsync(key + 2, "after").AsTask());
            Assert.Contains("was deleted", e.Message, StringComparison.Ordinal);
            Assert.Contains(_path, e.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<CacheConnectionException>(() => tier.SetManyAsync([KeyValuePair.Create(key + 3, "x")]).AsTask());
            await Assert.ThrowsAsync<CacheConnectionException>(() => tier.DeleteAsync(key + 1).AsTask());
            await Assert.ThrowsAsync<CacheConnectionException>(() => tier.GetAsync<string>(key + 1).AsTask());
        }

        // A new tier creates the file again; nothing written after the deletion was acknowledged.
        await using var fresh = new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null });
        Assert.False((await fresh.GetAsync<string>(key + 2)).HasValue);
        await fresh.SetAsync(key + 2, "again");
        Assert.Equal("again", (await fresh.GetAsync<string>(key + 2)).Value);
    }

    /// <summary>
    /// Another file put at the path while the tier has its own open (a restore, a copy renamed over it): SQLite writes
    /// to the file it has open, which no new tier opens again. The file still exists at the path, so only a check of
    /// which file it is finds it; a write is refused instead of being acknowledged into the file that was replaced.
    /// </summary>
    [Fact]
    public async Task SetAsync_FileReplacedAtItsPathWhileOpen_ThrowsCacheConnectionException()
    {
        var key = $"{nameof(SqliteTierFileLossTests)}:{Guid.NewGuid():N}";
        var other = SqliteTestFiles.NewPath(nameof(SqliteTierFileLossTests) + "-other");
        try
        {
            await using (var replacement = new SqliteTier(new SqliteTierOptions { FilePath = other, SweepInterval = null }))
            {
                await replacement.SetAsync(key + "r", "another tier's");
            }

            await using (var tier = new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null }))
            {
                await tier.SetAsync(key + 1, "before");
                File.Move(other, _path, overwrite: true);

                var e = await Assert.ThrowsAsync<CacheConnectionException>(() => tier.SetAsync(key + 2, "after").AsTask());
                Assert.Contains("replaced", e.Message, StringComparison.Ordinal);
                Assert.Contains(_path, e.Message, StringComparison.Ordinal);
                await Assert.ThrowsAsync<CacheConnectionException>(() => tier.GetAsync<string>(key + 1).AsTask()); // every later call too
            }
        }
        finally
        {
            SqliteTestFiles.Delete(other);
        }
    }
}
