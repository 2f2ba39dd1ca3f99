namespace TaiCache.Tests.Sqlite;

/// <summary>Throwaway database files for SQLite tests, deleted (with their WAL and shared-memory files) afterwards.</summary>
internal static class SqliteTestFiles
{
    public static string NewPath(string test) =>
        Path.Combine(Path.GetTempPath(), "taicache-tests", $"{test}-{Guid.NewGuid():N}.db");

    public static void Delete(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }
}
