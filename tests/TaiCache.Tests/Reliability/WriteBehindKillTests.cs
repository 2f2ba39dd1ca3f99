using System.Collections.Concurrent;
using System.Diagnostics;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using Xunit.Abstractions;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// Issue 8, first fault: the L2 server is SIGKILLed during 10,000 write-behind sets, restarted, and the queue flushed.
/// Every key must end holding its last acknowledged value (0 writes lost) and a watcher polling the server during the
/// whole run must never see a key go back to an older value (nothing applied out of order). Redis runs with AOF
/// (appendfsync always); memcached keeps nothing across a kill, so every key is written again after the restart and
/// the check is that the queue delivers those writes, in order, to the new process.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class WriteBehindKillTests
{
    private readonly ITestOutputHelper _output;

    public WriteBehindKillTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [InlineData("redis")]
    [InlineData("memcached")]
    public async Task L2KilledDuring10000WriteBehindSets_Restarted_Flushed_NoAcknowledgedWriteLost_NoneOutOfOrder(string backend)
    {
        var port = FreePort.Next();
        var aofDir = Path.Combine(Path.GetTempPath(), $"taicache-rel-aof-{Guid.NewGuid():N}");
        ServerProcess server;
        if (backend == "redis")
        {
            Directory.CreateDirectory(aofDir);
            server = await RedisServerFixture.StartRedisAsync(port, "--appendonly", "yes", "--appendfsync", "always", "--dir", aofDir);
        }
        else
        {
            server = await MemcachedServerFixture.StartMemcachedAsync(port);
        }

        await using var serverScope = server;
        var prefix = ReliabilityKit.Prefix(nameof(WriteBehindKillTests));
        ICacheOps L2() => backend == "redis" ? ReliabilityKit.Redis(port, prefix) : ReliabilityKit.Memcached(port, prefix, TimeSpan.FromMilliseconds(800));

        var options = new MultiTierCacheOptions
        {
            WriteStrategy = WriteStrategy.WriteBehind,
            CircuitBreakerFailureThreshold = 3,
            CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(300),
            TierTimeout = TimeSpan.FromSeconds(2),
        };
        options.WriteBehind.MaxAttempts = 1000;
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(300);
        options.WriteBehind.BatchSize = 200;
        options.Tiers.Add(ReliabilityKit.Memory());
        options.Tiers.Add(L2());
        await using var cache = new MultiTierCache(options);

        const int Writers = 4;
        const int KeysPerWriter = 125;
        const int SetsPerWriter = 2500; // 10,000 sets; each key written 20 times, at least 12 of them after the restart
        var latest = new ConcurrentDictionary<string, int>();
        var acknowledged = 0;
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var restarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The watcher reads 25 keys straight from the server all along. Each key's values are written in increasing
        // order, so a value lower than one seen before (even across the restart) is a write applied out of order.
        var watched = Enumerable.Range(0, 25).Select(i => $"w{i % Writers}:k{i}").ToArray();
        var seen = new Dictionary<string, int>();
        var regressions = 0;
        var watcherReads = 0;
        using var stopWatcher = new CancellationTokenSource();
        await using var watcherClient = L2();
        var watcher = Task.Run(async () =>
        {
            while (!stopWatcher.IsCancellationRequested)
            {
                try
                {
                    var got = await watcherClient.GetManyAsync<int>(watched);
                    watcherReads++;
                    foreach (var (k, v) in got)
                    {
                        if (seen.TryGetValue(k, out var before) && v < before)
                        {
                            regressions++;
                        }

                        seen[k] = v;
                    }
                }
                catch (Exception)
                {
                    // server down: nothing to observe
                }

                await Task.Delay(10);
            }
        });

        var watch = Stopwatch.StartNew();
        TimeSpan killedAt = default, restartedAt = default;
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < SetsPerWriter; i++)
            {
                var key = $"w{w}:k{i % KeysPerWriter}";
                await cache.SetAsync(key, i);
                latest[key] = i;
                var n = Interlocked.Increment(ref acknowledged);
                if (n > 5000 && !restarted.Task.IsCompleted)
                {
                    await restarted.Task; // the last 5,000 sets happen after the restart
                }

                if (i % 100 == 0)
                {
                    await Task.Delay(5); // pace the run so the watcher sees it
                }
                if (n == 2000)
                {
                    server.Kill();
                    killedAt = watch.Elapsed;
                    killed.SetResult();
                }

                if (n == 5000)
                {
                    await killed.Task;
                    await Task.Delay(500); // down long enough for the flusher to fail and retry
                    await server.StartAsync();
                    restartedAt = watch.Elapsed;
                    restarted.SetResult();
                }
            }
        })).ToArray();
        await Task.WhenAll(writers);
        await restarted.Task;
        var writesDone = watch.Elapsed;

        var flush = await cache.FlushAsync(TimeSpan.FromSeconds(60));
        var flushed = watch.Elapsed;
        await stopWatcher.CancelAsync();
        await watcher;

        // The watcher's client, connected since the restart (a new one's first call waits for its connection within the
        // 800 ms timeout); a timeout of the check itself on a loaded machine is retried, not counted as a loss.
        IReadOnlyDictionary<string, int> stored;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                stored = await watcherClient.GetManyAsync<int>(latest.Keys);
                break;
            }
            catch (Exception e) when (attempt < 10 && e is CacheTimeoutException or CacheConnectionException)
            {
                await Task.Delay(200);
            }
        }

        var lost = latest.Count(kv => !stored.TryGetValue(kv.Key, out var v) || v != kv.Value);
        _output.WriteLine($"[{backend}] acknowledged={acknowledged} killed at {killedAt.TotalMilliseconds:F0} ms, restarted at {restartedAt.TotalMilliseconds:F0} ms, " +
            $"writes done {writesDone.TotalMilliseconds:F0} ms, flushed {flushed.TotalMilliseconds:F0} ms (completed={flush.Completed} written={flush.Written} dead={flush.DeadLettered} pending={flush.PendingCount}); " +
            $"keys={latest.Count} lost-or-stale={lost}; watcher reads={watcherReads} regressions={regressions}");

        Assert.Equal(Writers * SetsPerWriter, acknowledged);
        Assert.True(flush.Completed, $"{flush.PendingCount} writes still queued");
        Assert.Equal(0, cache.WriteBehindDeadLetterCount);
        Assert.Equal(Writers * KeysPerWriter, latest.Count);
        Assert.Equal(0, lost);
        Assert.Equal(0, regressions);
        Assert.True(watcherReads > 0, "the watcher never read the server");
        try
        {
            Directory.Delete(aofDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
