using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using TaiCache.Sqlite;
using TaiCache.Tests.Sqlite;
using TaiCache.Tiering.Warming;

namespace TaiCache.Tests.Tiering.Warming;

public sealed class CacheWarmerTests : IAsyncLifetime
{
    private readonly InMemoryTier _memory = new(new InMemoryTierOptions { MaximumSize = 100_000 });
    private readonly string _sqlitePath = SqliteTestFiles.NewPath(nameof(CacheWarmerTests));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _memory.DisposeAsync();
        SqliteTestFiles.Delete(_sqlitePath);
    }

    [Fact]
    public async Task WarmAsync_KeyList_LoadsEveryKey()
    {
        var keys = Keys(50);
        var summary = await new CacheWarmer(_memory).WarmAsync(keys, (k, _) => ValueTask.FromResult(k.Length));
        Assert.Equal(50, summary.Loaded);
        Assert.Equal(0, summary.Failed);
        Assert.Equal(0, summary.Skipped);
        Assert.Empty(summary.Failures);
        Assert.All(keys, k => Assert.Equal(k.Length, (_memory.TryGet<int>(k, out var v), v).v));
    }

    [Fact]
    public async Task WarmAsync_MaxConcurrency_IsRespectedAndReached()
    {
        var current = 0;
        var max = 0;
        var warmer = new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 3 });
        var summary = await warmer.WarmAsync(Keys(30), async (k, ct) =>
        {
            var now = Interlocked.Increment(ref current);
            InterlockedMax(ref max, now);
            await Task.Delay(10, ct);
            Interlocked.Decrement(ref current);
            return k;
        });
        Assert.Equal(30, summary.Loaded);
        Assert.Equal(3, max);
    }

    [Fact]
    public async Task WarmAsync_FailingLoader_CountsAndNamesFailures_OthersLoaded()
    {
        var keys = Keys(20);
        var bad = keys.Where((_, i) => i % 5 == 0).ToHashSet();
        var summary = await new CacheWarmer(_memory).WarmAsync(keys, (k, _) =>
            bad.Contains(k) ? throw new InvalidOperationException("database says no") : ValueTask.FromResult("ok"));
        Assert.Equal(16, summary.Loaded);
        Assert.Equal(4, summary.Failed);
        Assert.Equal(bad, summary.Failures.Select(f => f.Key).ToHashSet());
        Assert.All(summary.Failures, f => Assert.IsType<InvalidOperationException>(f.Exception));
        Assert.All(bad, k => Assert.False(_memory.TryGet<string>(k, out _)));
    }

    [Fact]
    public async Task WarmAsync_Progress_ReportsEveryKeyUpToTotal()
    {
        var reports = new ConcurrentBag<WarmupProgress>();
        var keys = Keys(25);
        var summary = await new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 4 })
            .WarmAsync(keys, (k, _) => k.EndsWith(":3", StringComparison.Ordinal) ? throw new InvalidOperationException() : ValueTask.FromResult(1), new SyncProgress(reports.Add));
        Assert.Equal(25, reports.Count);
        Assert.All(reports, r => Assert.Equal(25, r.Total));
        var last = reports.MaxBy(r => r.Completed);
        Assert.Equal(25, last.Completed);
        Assert.Equal(summary.Loaded, last.Loaded);
        Assert.Equal(1, last.Failed);
        Assert.True(summary.Duration > TimeSpan.Zero);
    }

    [Fact]
    public async Task WarmAsync_SkipExisting_KeepsExistingValues_AndDoesNotLoadThem()
    {
        var keys = Keys(10);
        _memory.Set(keys[0], "existing");
        _memory.Set(keys[1], "existing");
        var loaded = new ConcurrentBag<string>();
        var summary = await new CacheWarmer(_memory, new CacheWarmerOptions { SkipExisting = true })
            .WarmAsync(keys, (k, _) =>
            {
                loaded.Add(k);
                return ValueTask.FromResult("fresh");
            });
        Assert.Equal(8, summary.Loaded);
        Assert.Equal(2, summary.Skipped);
        Assert.DoesNotContain(keys[0], loaded);
        Assert.Equal("existing", (_memory.TryGet<string>(keys[0], out var v), v).v);
    }

    [Fact]
    public async Task WarmAsync_AsyncStreamIntoSqlite_BatchesAndCountsBadKeys()
    {
        await using var sqlite = new SqliteTier(new SqliteTierOptions { FilePath = _sqlitePath, SweepInterval = null });
        var keys = Keys(250);
        var summary = await new CacheWarmer(sqlite, new CacheWarmerOptions { BatchSize = 100, Ttl = TimeSpan.FromHours(1) })
            .WarmAsync(Stream(keys.Append("bad\nkey")));
        Assert.Equal(250, summary.Loaded);
        Assert.Equal(1, summary.Failed);
        Assert.Equal("bad\nkey", summary.Failures.Single().Key);
        Assert.IsType<InvalidCacheKeyException>(summary.Failures.Single().Exception);
        Assert.Equal(250, await sqlite.CountAsync());
        Assert.Equal(keys[7], (await sqlite.GetAsync<string>(keys[7])).Value);
    }

    [Fact]
    public async Task WarmAsync_InvalidKeyInList_ThrowsBeforeLoadingAnything()
    {
        var called = 0;
        await Assert.ThrowsAsync<InvalidCacheKeyException>(() => new CacheWarmer(_memory).WarmAsync(["good", "bad\rkey"], (k, _) =>
        {
            Interlocked.Increment(ref called);
            return ValueTask.FromResult(1);
        }));
        Assert.Equal(0, called);
    }

    [Fact]
    public async Task WarmAsync_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        var warmer = new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 2 });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => warmer.WarmAsync(Keys(100), async (k, ct) =>
        {
            await cts.CancelAsync();
            await Task.Delay(5, ct);
            return k;
        }, cancellationToken: cts.Token));
    }

    [Fact]
    public void Options_Invalid_ThrowNamingTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 0 }));
        Assert.Contains("MaxConcurrency", ex.Message, StringComparison.Ordinal);
    }

    private static async IAsyncEnumerable<KeyValuePair<string, string>> Stream(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            await Task.Yield();
            yield return KeyValuePair.Create(key, key);
        }
    }

    private static List<string> Keys(int count, [CallerMemberName] string test = "")
    {
        var prefix = $"{nameof(CacheWarmerTests)}:{test}:{Guid.NewGuid():N}";
        return Enumerable.Range(0, count).Select(i => $"{prefix}:{i}").ToList();
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private sealed class SyncProgress(Action<WarmupProgress> report) : IProgress<WarmupProgress>
    {
        public void Report(WarmupProgress value) => report(value);
    }
}
