using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Sqlite;
using Xunit.Abstractions;

namespace TaiCache.Tests.Sqlite;

/// <summary>What the SQLite tier adds to the contract: persistence across restarts, the sweep, WAL, safety.</summary>
public sealed class SqliteTierTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<string> _paths = [];

    public SqliteTierTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var path in _paths)
        {
            SqliteTestFiles.Delete(path);
        }
    }

    [Fact]
    public async Task Reopen_SameFile_ValuesSurviveDispose()
    {
        var path = NewPath();
        var key = Key();
        await using (var first = Open(path))
        {
            await first.SetAsync(key, new Contract.OrderLine("SKU-9", 2, 1.5m));
            await first.SetManyAsync([KeyValuePair.Create(key + ":a", 1), KeyValuePair.Create(key + ":b", 2)]);
        }

        await using var second = Open(path);
        Assert.Equal(new Contract.OrderLine("SKU-9", 2, 1.5m), (await second.GetAsync<Contract.OrderLine>(key)).Value);
        var many = await second.GetManyAsync<int>([key + ":a", key + ":b"]);
        Assert.Equal(2, many.Count);
        Assert.Equal(3, await second.CountAsync());
    }

    [Fact]
    public async Task Reopen_AfterTtlPassed_ExpiredValueIsMiss()
    {
        var path = NewPath();
        var key = Key();
        await using (var first = Open(path))
        {
            await first.SetAsync(key, "short", TimeSpan.FromMinutes(1));
            await first.SetAsync(key + ":keep", "long", TimeSpan.FromHours(1));
        }

        _time.Advance(TimeSpan.FromMinutes(2));
        await using var second = Open(path);
        Assert.False((await second.GetAsync<string>(key)).HasValue);
        Assert.Equal("long", (await second.GetAsync<string>(key + ":keep")).Value);
    }

    [Fact]
    public async Task SweepAsync_DeletesOnlyExpiredRows()
    {
        await using var tier = Open(NewPath());
        var key = Key();
        await tier.SetManyAsync(Enumerable.Range(0, 10).Select(i => KeyValuePair.Create($"{key}:short:{i}", i)), TimeSpan.FromSeconds(10));
        await tier.SetManyAsync(Enumerable.Range(0, 5).Select(i => KeyValuePair.Create($"{key}:long:{i}", i)), TimeSpan.FromHours(1));
        await tier.SetAsync(key + ":forever", "x");
        _time.Advance(TimeSpan.FromSeconds(11));

        Assert.Equal(16, await tier.CountAllRowsAsync()); // expired rows are still in the file...
        Assert.Equal(6, await tier.CountAsync());           // ...but are not live
        Assert.Equal(10, await tier.SweepAsync());
        Assert.Equal(6, await tier.CountAllRowsAsync());
        Assert.Equal(0, await tier.SweepAsync());
        Assert.Equal("x", (await tier.GetAsync<string>(key + ":forever")).Value);
    }

    [Fact]
    public async Task SweepAsync_MoreExpiredRowsThanOneBatch_DeletesThemAllInSteps()
    {
        await using var tier = Open(NewPath());
        var key = Key();
        await tier.SetManyAsync(Enumerable.Range(0, 4_500).Select(i => KeyValuePair.Create($"{key}:short:{i}", i)), TimeSpan.FromSeconds(10));
        await tier.SetAsync(key + ":forever", "x");
        _time.Advance(TimeSpan.FromSeconds(11));

        Assert.Equal(4_500, await tier.SweepAsync()); // three steps of at most 2,000 rows, each under the gate alone
        Assert.Equal(1, await tier.CountAllRowsAsync());
    }

    [Fact]
    public async Task Open_WhileAnotherConnectionHoldsTheWriteLock_SucceedsAndReads()
    {
        var path = NewPath();
        await using (var first = Open(path))
        {
            await first.SetAsync("k", "v");
        }

        // Another process writing a long batch: opening took the write lock for the schema and failed after BusyTimeout.
        using var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        other.Open();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
        }

        await using var second = Open(path, o => o.BusyTimeout = TimeSpan.FromMilliseconds(300));
        Assert.Equal("v", (await second.GetAsync<string>("k")).Value);
        await Assert.ThrowsAsync<CacheTimeoutException>(async () => await second.SetAsync("k2", "blocked"));
    }

    [Fact]
    public async Task SetAsync_FileLockedByAnotherWriter_BusyTimeoutZero_FailsInsteadOfWaitingForTheLock()
    {
        // With BusyTimeout 0 the command timeout was 0, which Microsoft.Data.Sqlite reads as no limit: the write waited
        // for as long as the other writer held the lock.
        var path = NewPath();
        await using (var first = Open(path))
        {
            await first.SetAsync("k", "v");
        }

        await using var second = Open(path, o => o.BusyTimeout = TimeSpan.Zero);
        using var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        other.Open();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
        }

        var write = Task.Run(async () => await second.SetAsync("k2", "blocked")); // off this thread: a write may block it while it waits
        var finished = await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(20)));
        using (var commit = other.CreateCommand())
        {
            commit.CommandText = "COMMIT;";
            commit.ExecuteNonQuery(); // releases a write that was still waiting
        }

        Assert.Same(write, finished);
        await Assert.ThrowsAsync<CacheTimeoutException>(() => write);
    }

    [Fact]
    public async Task SweepTimer_FiresOnInterval_DeletesExpiredRows()
    {
        await using var tier = Open(NewPath(), o => o.SweepInterval = TimeSpan.FromMinutes(1));
        var key = Key();
        await tier.SetAsync(key, 1, TimeSpan.FromSeconds(30));
        await tier.SetAsync(key + ":keep", 2);
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(2, await tier.CountAllRowsAsync()); // nothing swept before the interval

        _time.Advance(TimeSpan.FromSeconds(30)); // the timer fires at 1 minute
        var deadline = Stopwatch.StartNew();
        while (await tier.CountAllRowsAsync() != 1 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, await tier.CountAllRowsAsync());
        Assert.Equal(2, (await tier.GetAsync<int>(key + ":keep")).Value);
    }

    [Fact]
    public async Task Open_UsesWalJournal()
    {
        var path = NewPath();
        await using var tier = Open(path);
        await tier.SetAsync(Key(), 1);
        await using var raw = new SqliteConnection($"Data Source={path};Pooling=False");
        await raw.OpenAsync();
        await using var cmd = raw.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task TwoInstancesOnOneFile_SeeEachOthersWrites()
    {
        var path = NewPath();
        await using var a = Open(path);
        await using var b = Open(path);
        var key = Key();
        await a.SetAsync(key, "from-a");
        Assert.Equal("from-a", (await b.GetAsync<string>(key)).Value);
        Assert.True(await b.DeleteAsync(key));
        Assert.False(await a.ExistsAsync(key));
    }

    [Fact]
    public async Task GetAsync_CorruptBytesInFile_ThrowsSerializationExceptionNamingKey()
    {
        var path = NewPath();
        await using var tier = Open(path);
        var key = Key();
        await tier.SetAsync(key, "ok");
        await using (var raw = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await raw.OpenAsync();
            await using var cmd = raw.CreateCommand();
            cmd.CommandText = "UPDATE taicache_entries SET value = x'DEADBEEF' WHERE key = $k;";
            cmd.Parameters.AddWithValue("$k", key);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var ex = await Assert.ThrowsAsync<CacheSerializationException>(async () => await tier.GetAsync<string>(key));
        Assert.Equal(key, ex.Key);
    }

    [Fact]
    public async Task Open_FileWithNewerSchema_ThrowsConnectionException()
    {
        var path = NewPath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var raw = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await raw.OpenAsync();
            await using var cmd = raw.CreateCommand();
            cmd.CommandText = "PRAGMA user_version = 99;";
            await cmd.ExecuteNonQueryAsync();
        }

        var ex = Assert.Throws<CacheConnectionException>(() => Open(path));
        Assert.Contains("99", ex.Message, StringComparison.Ordinal);

        // The refused file is closed at once, not left open until a finalizer runs (Linux lists a process's open files).
        var open = new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Select(fd => fd.LinkTarget).ToList();
        Assert.DoesNotContain(Path.GetFullPath(path), open);
    }

    [Fact]
    public async Task AfterDispose_OperationsThrowObjectDisposed()
    {
        var tier = Open(NewPath());
        await tier.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.GetAsync<int>(Key()));
        await tier.DisposeAsync(); // idempotent
    }

    [Fact]
    public async Task DefaultTtl_AppliesToSetsWithoutTtl()
    {
        await using var tier = Open(NewPath(), o => o.DefaultTtl = TimeSpan.FromMinutes(5));
        var key = Key();
        await tier.SetAsync(key, 1);
        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.True(await tier.ExistsAsync(key));
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(await tier.ExistsAsync(key));
    }

    [Fact]
    public async Task ClearAsync_RemovesEverything()
    {
        await using var tier = Open(NewPath());
        var key = Key();
        await tier.SetManyAsync(Enumerable.Range(0, 20).Select(i => KeyValuePair.Create($"{key}:{i}", i)));
        Assert.Equal(20, await tier.ClearAsync());
        Assert.Equal(0, await tier.CountAsync());
    }

    [Fact]
    public void Options_Invalid_ThrowNamingTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SqliteTier(new SqliteTierOptions { SweepInterval = TimeSpan.Zero }));
        Assert.Contains("SweepInterval", ex.Message, StringComparison.Ordinal);
        var ex2 = Assert.Throws<ArgumentException>(() => new SqliteTier(new SqliteTierOptions { Name = " " }));
        Assert.Contains("Name", ex2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_NoFilePath_DefaultsUnderLocalDataFolder()
    {
        var path = new SqliteTierOptions { Name = "orders/l3" }.ResolveFilePath();
        Assert.EndsWith(Path.Combine("TaiCache", "orders_l3.db"), path, StringComparison.Ordinal);
        Assert.True(Path.IsPathRooted(path));
    }

    [Fact]
    public async Task SetAsync_OverMaxKeyBytes_Refused()
    {
        await using var tier = Open(NewPath(), o => o.MaxKeyBytes = 16);
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await tier.SetAsync(new string('k', 17), 1));
        Assert.Equal(0, await tier.CountAllRowsAsync());
    }

    [Fact]
    public async Task ConcurrentMixedOperations_StayConsistent_AndReportThroughput()
    {
        await using var tier = new SqliteTier(new SqliteTierOptions { FilePath = NewPath() });
        var key = Key();
        const int Tasks = 8;
        const int PerTask = 500;
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, Tasks), new ParallelOptions { MaxDegreeOfParallelism = Tasks }, async (t, ct) =>
        {
            for (var i = 0; i < PerTask; i++)
            {
                var k = $"{key}:{t}:{i % 50}";
                await tier.SetAsync(k, i, cancellationToken: ct);
                Assert.Equal(i, (await tier.GetAsync<int>(k, ct)).Value);
            }
        });
        sw.Stop();
        var ops = Tasks * PerTask * 2;
        _output.WriteLine($"SqliteTier: {ops} ops (set+get) from {Tasks} tasks in {sw.ElapsedMilliseconds} ms = {ops / sw.Elapsed.TotalSeconds:N0} ops/s");
        Assert.Equal(Tasks * 50, await tier.CountAsync());
    }

    [Fact]
    public async Task Metrics_SizeReportedAtOpenAndAfterEachSweep_RowsAndTheirBytes()
    {
        var path = NewPath();
        var key = Key();
        using var metrics = new TaiCache.Metrics.MetricsCollector("sqlite-size", "sqlite", _time);
        await using (var first = Open(path, o => o.Metrics = metrics))
        {
            Assert.Equal(0, metrics.Items);
            await first.SetAsync(key + ":a", new string('a', 100));
            await first.SetAsync(key + ":b", new string('b', 100), TimeSpan.FromMinutes(1));
            await first.SetAsync(key + ":c", 3);
            await first.SweepAsync();
            Assert.Equal(3, metrics.Items);
            Assert.InRange(metrics.Bytes, 200 + (3 * key.Length), 400 + (3 * key.Length));

            _time.Advance(TimeSpan.FromMinutes(2));
            Assert.Equal(1, await first.SweepAsync());
            Assert.Equal(2, metrics.Items);
            Assert.InRange(metrics.Bytes, 100 + (2 * key.Length), 250 + (2 * key.Length));
            Assert.Equal(3, metrics.PeakItems);
        }

        // A file reopened reports what it already holds, before any write or sweep.
        using var reopened = new TaiCache.Metrics.MetricsCollector("sqlite-size-2", "sqlite", _time);
        await using var second = Open(path, o => o.Metrics = reopened);
        Assert.Equal(2, reopened.Items);
        Assert.True(reopened.GetSnapshot().SizeReported);
    }

    private string NewPath([System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        var path = SqliteTestFiles.NewPath(test);
        _paths.Add(path);
        return path;
    }

    private static string Key([System.Runtime.CompilerServices.CallerMemberName] string test = "") => $"{nameof(SqliteTierTests)}:{test}:{Guid.NewGuid():N}";

    private SqliteTier Open(string path, Action<SqliteTierOptions>? configure = null)
    {
        var options = new SqliteTierOptions { FilePath = path, TimeProvider = _time, SweepInterval = null };
        configure?.Invoke(options);
        return new SqliteTier(options);
    }
}
