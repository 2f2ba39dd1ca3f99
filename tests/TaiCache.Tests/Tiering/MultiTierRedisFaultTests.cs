using System.Collections.Concurrent;
using System.Diagnostics;
using TaiCache.Redis;
using TaiCache.Sqlite;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;
using Xunit.Abstractions;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// The multi-tier fault cases of issues 6 and 8 against real redis-server processes: each test starts its own server
/// (so killing it touches no other test), with an SQLite file as L3. They run alone, after the parallel collections:
/// the slow-Redis case asserts that reads stay on time, which a saturated machine breaks (a full parallel run once
/// held one read 3.3 s, past its 200 ms tier timeout, until the server woke).
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MultiTierRedisFaultTests : IAsyncLifetime
{
    private readonly ITestOutputHelper _output;
    private readonly List<string> _files = [];
    private readonly List<string> _folders = [];
    private readonly List<IAsyncDisposable> _disposables = [];

    public MultiTierRedisFaultTests(ITestOutputHelper output) => _output = output;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var d in Enumerable.Reverse(_disposables))
        {
            try
            {
                await d.DisposeAsync();
            }
            catch (Exception)
            {
            }
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in _files)
        {
            foreach (var path in new[] { f, f + "-wal", f + "-shm" })
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                }
            }
        }

        foreach (var folder in _folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true); // the durable server's append-only files
            }
            catch (IOException)
            {
            }
        }
    }

    private string TempFile(string what)
    {
        var path = Path.Combine(Path.GetTempPath(), $"taicache-{what}-{Guid.NewGuid():N}.db");
        _files.Add(path);
        return path;
    }

    private async Task<ServerProcess> StartRedisAsync(int? port = null, bool durable = false, bool debug = false)
    {
        var p = port ?? FreePort.Next();
        ServerProcess server;
        if (debug)
        {
            server = await RedisServerFixture.StartRedisAsync(p, "--enable-debug-command", "yes");
        }
        else if (durable)
        {
            var dir = Path.Combine(Path.GetTempPath(), $"taicache-aof-{Guid.NewGuid():N}");
            Directory.CreateDirectory(dir);
            _folders.Add(dir);
            server = await RedisServerFixture.StartRedisAsync(p, "--appendonly", "yes", "--appendfsync", "always", "--dir", dir);
        }
        else
        {
            server = await RedisServerFixture.StartRedisAsync(p);
        }

        _disposables.Add(server);
        return server;
    }

    private static RedisCache Redis(int port, string prefix) => new(new RedisCacheOptions
    {
        Name = "redis",
        ConnectionString = $"127.0.0.1:{port},abortConnect=false,connectRetry=1",
        KeyPrefix = prefix,
        OperationTimeout = TimeSpan.FromMilliseconds(800),
    });

    /// <summary>
    /// A client that checks what reached Redis: its own patient timeout, since its first call waits for its connection
    /// right after a start or restart, which on a loaded machine takes longer than the cache's 800 ms tier timeout.
    /// </summary>
    private static RedisCache Check(int port, string prefix) => new(new RedisCacheOptions
    {
        Name = "check",
        ConnectionString = $"127.0.0.1:{port},abortConnect=false",
        KeyPrefix = prefix,
        OperationTimeout = TimeSpan.FromSeconds(10),
    });

    private SqliteTier Sqlite() => new(new SqliteTierOptions { Name = "sqlite", FilePath = TempFile("l3") });

    private static string Prefix([System.Runtime.CompilerServices.CallerMemberName] string test = "") => $"{nameof(MultiTierRedisFaultTests)}:{test}:{Guid.NewGuid():N}:";

    [Fact]
    public async Task WriteBehind_RedisKilledMidRunAndRestarted_NoAcknowledgedWriteLost_LatestValuesWin()
    {
        var server = await StartRedisAsync(durable: true);
        var prefix = Prefix();
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
        options.WriteBehind.BatchSize = 100;
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(Redis(server.Port, prefix));
        options.Tiers.Add(Sqlite());
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);

        const int Writers = 4;
        const int KeysPerWriter = 125;
        const int SetsPerWriter = 500;
        var latest = new ConcurrentDictionary<string, int>();
        var acknowledged = 0;
        var killed = new TaskCompletionSource();
        var restarted = new TaskCompletionSource();

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < SetsPerWriter; i++)
            {
                var key = $"w{w}:k{i % KeysPerWriter}";
                await cache.SetAsync(key, i);
                latest[key] = i;
                var n = Interlocked.Increment(ref acknowledged);
                if (n == 500)
                {
                    server.Kill();
                    killed.SetResult();
                }

                if (n == 1500)
                {
                    await killed.Task;
                    await server.StartAsync();
                    restarted.SetResult();
                }
            }
        })).ToArray();
        await Task.WhenAll(writers);
        await restarted.Task;

        var flush = await cache.FlushAsync(TimeSpan.FromSeconds(60));
        _output.WriteLine($"acknowledged={acknowledged} flush: completed={flush.Completed} written={flush.Written} dead={flush.DeadLettered} pending={flush.PendingCount}");

        Assert.Equal(Writers * SetsPerWriter, acknowledged);
        Assert.True(flush.Completed, $"{flush.PendingCount} writes still queued");
        Assert.Equal(0, cache.WriteBehindDeadLetterCount);
        await using var check = Check(server.Port, prefix);
        var stored = await check.GetManyAsync<int>(latest.Keys);
        var lost = latest.Count(kv => !stored.TryGetValue(kv.Key, out var v) || v != kv.Value);
        _output.WriteLine($"keys={latest.Count} lost-or-stale={lost}");
        Assert.Equal(Writers * KeysPerWriter, latest.Count);
        Assert.Equal(0, lost);
        var l3 = (SqliteTier)cache.Tiers[2];
        var inL3 = await l3.GetManyAsync<int>(latest.Keys);
        Assert.All(latest, kv => Assert.Equal(kv.Value, inL3[kv.Key]));
    }

    [Fact]
    public async Task FailSafe_RedisDown_ReadsServedFromL3_DeadServerCostsOneTimeoutNotOnePerCall()
    {
        var server = await StartRedisAsync();
        var prefix = Prefix();
        var options = new MultiTierCacheOptions
        {
            CircuitBreakerFailureThreshold = 2,
            CircuitBreakerBreakDuration = TimeSpan.FromSeconds(30),
            TierTimeout = TimeSpan.FromMilliseconds(500),
        };
        var l1 = TierTestKit.Memory("L1");
        options.Tiers.Add(l1);
        options.Tiers.Add(Redis(server.Port, prefix));
        options.Tiers.Add(Sqlite());
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);
        var keys = Enumerable.Range(0, 200).Select(i => $"k{i}").ToArray();
        foreach (var key in keys)
        {
            await cache.SetAsync(key, key + "-value");
        }

        server.Kill();
        l1.Clear();
        var watch = Stopwatch.StartNew();
        foreach (var key in keys)
        {
            Assert.Equal(key + "-value", (await cache.GetAsync<string>(key)).Value);
        }

        watch.Stop();
        _output.WriteLine($"200 reads with Redis down: {watch.ElapsedMilliseconds} ms; circuit {cache.GetCircuitState(1)}");
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"200 reads took {watch.Elapsed}");
        Assert.True(l1.TryGet<string>(keys[0], out _));

        var loaded = await cache.GetOrSetAsync("fresh", _ => new ValueTask<string>("from-factory"));
        Assert.Equal("from-factory", loaded);
    }

    [Fact]
    public async Task AppStartsWhileRedisDown_ServesFromL1L3AndFactory_UsesRedisOnceUp()
    {
        var port = FreePort.Next();
        var prefix = Prefix();
        var options = new MultiTierCacheOptions
        {
            CircuitBreakerFailureThreshold = 2,
            CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(500),
            TierTimeout = TimeSpan.FromMilliseconds(500),
            BestEffortWrites = true,
        };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(Redis(port, prefix));
        options.Tiers.Add(Sqlite());
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);

        var factoryRuns = 0;
        for (var i = 0; i < 20; i++)
        {
            var v = await cache.GetOrSetAsync($"down{i}", _ =>
            {
                Interlocked.Increment(ref factoryRuns);
                return new ValueTask<int>(i);
            });
            Assert.Equal(i, v);
        }

        Assert.Equal(20, factoryRuns);
        Assert.Equal(5, (await cache.Tiers[2].GetAsync<int>("down5")).Value);
        Assert.Equal(5, await cache.GetOrSetAsync("down5", _ => new ValueTask<int>(-1)));

        var server = await StartRedisAsync(port);
        var started = Stopwatch.StartNew();
        await using var check = Check(port, prefix);
        var reachedRedis = false;
        for (var attempt = 0; attempt < 200 && !reachedRedis; attempt++)
        {
            await cache.SetAsync("up", attempt);
            reachedRedis = (await check.GetAsync<int>("up")).HasValue;
            if (!reachedRedis)
            {
                await Task.Delay(100);
            }
        }

        _output.WriteLine($"Redis used {started.ElapsedMilliseconds} ms after it started");
        Assert.True(reachedRedis, "the cache never wrote to Redis after it came up");
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
        var loaded = await cache.GetOrSetAsync("after", _ => new ValueTask<string>("x"));
        Assert.Equal("x", (await check.GetAsync<string>("after")).Value);
        Assert.Equal("x", loaded);
        _ = server;
    }

    [Fact]
    public async Task Stampede_RedisFailsHalfItsCalls_1000Callers_FactoryRunsOnce()
    {
        var server = await StartRedisAsync();
        var prefix = Prefix();
        var redis = new FaultyTier(Redis(server.Port, prefix)) { FailWhen = n => n % 2 == 0 };
        var options = new MultiTierCacheOptions { CircuitBreakerFailureThreshold = 0 };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(redis);
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);

        for (var round = 0; round < 3; round++)
        {
            var key = $"cold{round}";
            var runs = 0;
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var callers = Enumerable.Range(0, 1000).Select(_ => Task.Run(async () => await cache.GetOrSetAsync(key, async ct =>
            {
                Interlocked.Increment(ref runs);
                await gate.Task.WaitAsync(ct);
                return "v" + round;
            }))).ToArray();
            await Task.Delay(100);
            gate.SetResult();
            var values = await Task.WhenAll(callers);
            Assert.Equal(1, runs);
            Assert.All(values, v => Assert.Equal("v" + round, v));
        }

        Assert.True(redis.Calls >= 3);
    }

    [Fact]
    public async Task Coherence_TwoInstancesShareRedis_WriteOnOneEvictsOthersL1_PropagationMeasured()
    {
        var server = await StartRedisAsync();
        var prefix = Prefix();
        var ns = Guid.NewGuid().ToString("N");

        async Task<(MultiTierCache Cache, InMemoryTier L1)> Instance(string name)
        {
            var redis = Redis(server.Port, prefix);
            var l1 = TierTestKit.Memory("L1");
            var coherence = new CacheCoherence(await redis.GetMultiplexerAsync(), l1, new CacheCoherenceOptions { Namespace = ns, InstanceId = name });
            await coherence.StartAsync();
            var options = new MultiTierCacheOptions { Name = name, Coherence = coherence };
            options.Tiers.Add(l1);
            options.Tiers.Add(redis);
            var cache = new MultiTierCache(options);
            _disposables.Add(coherence);
            _disposables.Add(cache);
            return (cache, l1);
        }

        var (a, _) = await Instance("a");
        var (b, bL1) = await Instance("b");
        var samples = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var key = $"shared{i}";
            var marker = $"marker{i}";
            bL1.Set(marker, "x");
            await a.SetAsync(key, "v1");

            // A's set of v1 published an invalidation too. Had it reached B after B's read copied v1 into its L1, it
            // would evict the copy. Messages arrive in order, so once B has dropped the marker A removed next, it has
            // handled the earlier one too.
            await a.DeleteAsync(marker);
            await TierTestKit.Eventually(() => !bL1.TryGet<string>(marker, out _), TimeSpan.FromSeconds(10));
            Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);

            // Should a message still land late, read again until the copy stays (bounded).
            var copied = Stopwatch.StartNew();
            while (!bL1.TryGet<string>(key, out _) && copied.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(10);
                Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);
            }

            Assert.True(bL1.TryGet<string>(key, out _));

            var watch = Stopwatch.StartNew();
            await a.SetAsync(key, "v2");
            await TierTestKit.Eventually(() => !bL1.TryGet<string>(key, out var seen) || seen == "v2", TimeSpan.FromSeconds(10));
            samples.Add(watch.Elapsed.TotalMilliseconds);
            Assert.Equal("v2", (await b.GetAsync<string>(key)).Value);
        }

        samples.Sort();
        _output.WriteLine($"propagation (set on A -> evicted from B's L1): p50 {samples[samples.Count / 2]:F2} ms, max {samples[^1]:F2} ms");
    }

    [Fact]
    public async Task WriteBehind_RedisDownLongerThanQueueHolds_RejectPolicyApplies_MemoryBounded_AcceptedWritesLandAfterRestart()
    {
        var server = await StartRedisAsync(durable: true);
        var prefix = Prefix();
        var options = new MultiTierCacheOptions
        {
            WriteStrategy = WriteStrategy.WriteBehind,
            CircuitBreakerFailureThreshold = 2,
            CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(300),
        };
        options.WriteBehind.Capacity = 100;
        options.WriteBehind.BatchSize = 50;
        options.WriteBehind.FullPolicy = WriteBehindFullPolicy.Reject;
        options.WriteBehind.MaxAttempts = 1000;
        options.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
        options.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(200);
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(Redis(server.Port, prefix));
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);

        server.Kill();
        var accepted = new List<string>();
        var rejected = 0;
        var maxDepth = 0;
        for (var i = 0; i < 1000; i++)
        {
            try
            {
                await cache.SetAsync($"k{i}", i);
                accepted.Add($"k{i}");
            }
            catch (WriteBehindQueueFullException)
            {
                rejected++;
            }

            maxDepth = Math.Max(maxDepth, cache.WriteBehindQueueDepth);
        }

        _output.WriteLine($"accepted={accepted.Count} rejected={rejected} max depth={maxDepth}");
        Assert.True(rejected > 0);
        Assert.True(maxDepth <= options.WriteBehind.Capacity + options.WriteBehind.BatchSize, $"depth {maxDepth}");
        Assert.True(accepted.Count <= options.WriteBehind.Capacity + options.WriteBehind.BatchSize);

        await server.StartAsync();
        var flush = await cache.FlushAsync(TimeSpan.FromSeconds(60));
        Assert.True(flush.Completed);
        await using var check = Check(server.Port, prefix);
        var stored = await check.GetManyAsync<int>(accepted);
        Assert.Equal(accepted.Count, stored.Count);
    }

    [Fact]
    public async Task FailSafe_RedisSlow_ReadsOnTimeFromL3_CircuitOpensThenCloses()
    {
        var server = await StartRedisAsync(debug: true);
        var prefix = Prefix();
        var options = new MultiTierCacheOptions
        {
            CircuitBreakerFailureThreshold = 2,
            CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(500),
            TierTimeout = TimeSpan.FromMilliseconds(200),
        };
        var l1 = TierTestKit.Memory("L1");
        var redis = Redis(server.Port, prefix);
        var sqlite = Sqlite();
        await redis.GetMultiplexerAsync();
        for (var i = 0; i < 20; i++)
        {
            await redis.SetAsync($"k{i}", i);
            await sqlite.SetAsync($"k{i}", i);
        }

        options.Tiers.Add(l1);
        options.Tiers.Add(redis);
        options.Tiers.Add(sqlite);
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{server.Port}");
        var sleeping = admin.GetDatabase().ExecuteAsync("DEBUG", "SLEEP", "3");
        await Task.Delay(100);

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 20; i++)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal(i, (await cache.GetAsync<int>($"k{i}")).Value);
            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
        }

        _output.WriteLine($"slowest read while Redis sleeps: {slowest.TotalMilliseconds:F0} ms; circuit {cache.GetCircuitState(1)}");
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"a read took {slowest}");
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));

        await sleeping;
        var closed = false;
        for (var i = 0; i < 100 && !closed; i++)
        {
            l1.Clear();
            await cache.GetAsync<int>("k0");
            closed = cache.GetCircuitState(1) == CircuitState.Closed;
            if (!closed)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(closed, "the circuit did not close after Redis woke up");
    }
}
