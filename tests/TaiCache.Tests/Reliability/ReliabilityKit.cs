using System.Diagnostics;
using System.Runtime.CompilerServices;
using TaiCache.Memcached;
using TaiCache.Redis;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Reliability;

/// <summary>Builders and bounded waits shared by the reliability tests.</summary>
internal static class ReliabilityKit
{
    public static string Prefix(string cls, [CallerMemberName] string test = "") => $"rel:{test[..Math.Min(test.Length, 40)]}:{Guid.NewGuid():N}:";

    public static InMemoryTier Memory(string name = "L1") => new(new InMemoryTierOptions { Name = name, MaximumSize = 1_000_000 });

    public static RedisCache Redis(int port, string prefix, TimeSpan? timeout = null, string extra = "") => new(new RedisCacheOptions
    {
        Name = "redis",
        ConnectionString = $"127.0.0.1:{port},abortConnect=false,connectRetry=1,connectTimeout=1000{extra}",
        KeyPrefix = prefix,
        OperationTimeout = timeout ?? TimeSpan.FromMilliseconds(800),
    });

    public static MemcachedCache Memcached(int port, string prefix, TimeSpan? timeout = null)
    {
        var o = new MemcachedCacheOptions { Name = "memcached", KeyPrefix = prefix, MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(1) };
        o.Servers.Add(new MemcachedServer("127.0.0.1", port));
        if (timeout is { } t)
        {
            o.OperationTimeout = t;
            o.ConnectTimeout = t;
        }

        return new MemcachedCache(o);
    }

    public static SqliteTier Sqlite(string path) => new(new SqliteTierOptions { Name = "sqlite", FilePath = path });

    public static string TempDb(string what) => Path.Combine(Path.GetTempPath(), $"taicache-rel-{what}-{Guid.NewGuid():N}.db");

    public static void DeleteDb(string path)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var p in new[] { path, path + "-wal", path + "-shm" })
        {
            try
            {
                File.Delete(p);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Polls <paramref name="probe"/> until it returns true; returns the time it took, or throws after the ceiling.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> probe, TimeSpan ceiling, string what, int pollMs = 50)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (await probe())
            {
                return watch.Elapsed;
            }

            if (watch.Elapsed > ceiling)
            {
                throw new TimeoutException($"{what} did not happen within {ceiling}.");
            }

            await Task.Delay(pollMs);
        }
    }
}
