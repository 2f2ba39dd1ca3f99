using TaiCache.Sqlite;
using TaiCache.Tests.Tiering.Coherence;

namespace TaiCache.Tests.Sqlite;

/// <summary>The SQLite file outlives the process that wrote it, and is shared with another process.</summary>
public sealed class SqliteTierTwoProcessTests : IDisposable
{
    private readonly string _path = SqliteTestFiles.NewPath(nameof(SqliteTierTwoProcessTests));

    public void Dispose() => SqliteTestFiles.Delete(_path);

    [Fact]
    public async Task ValueWrittenByAnotherProcess_ReadAfterItExited()
    {
        var key = $"{nameof(SqliteTierTwoProcessTests)}:{Guid.NewGuid():N}";
        await using (var writer = PeerProcess.Start("sqlite-set", _path, key, "written-by-peer"))
        {
            await writer.WaitForLineAsync(l => l == "DONE", "DONE");
        }

        await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null });
        Assert.Equal("written-by-peer", (await tier.GetAsync<string>(key)).Value);

        // And the other way round: this process writes, a new process reads.
        await tier.SetAsync(key + ":back", "written-by-test");
        await using var reader = PeerProcess.Start("sqlite-get", _path, key + ":back");
        Assert.Equal("VALUE written-by-test", await reader.WaitForLineAsync(l => l.StartsWith("VALUE", StringComparison.Ordinal) || l == "MISS", "VALUE"));
    }
}
