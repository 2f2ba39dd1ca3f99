using System.Diagnostics;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using Xunit.Abstractions;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// Issue 8, "a slow server": Redis and memcached behind <see cref="TcpFaultProxy"/>, which adds latency, swallows
/// traffic or cuts connections. TierTimeout must bound every call, stale or fallback values must be served on time,
/// and the circuit breaker must open on failures and close again once the network heals. The served-on-time bounds are
/// wall-clock, so the class runs alone: in the parallel suite a stale read once took 1.9 s against a 1.75 s ceiling
/// (alone, 260-290 ms every run).
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class SlowAndCutServerTests : IAsyncLifetime
{
    private readonly ITestOutputHelper _output;
    private readonly List<IAsyncDisposable> _disposables = [];
    private ServerProcess _redis = null!;
    private ServerProcess _memcached = null!;

    public SlowAndCutServerTests(ITestOutputHelper output) => _output = output;

    public async Task InitializeAsync()
    {
        _redis = await RedisServerFixture.StartRedisAsync(FreePort.Next());
        _memcached = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
    }

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

        await _redis.DisposeAsync();
        await _memcached.DisposeAsync();
    }

    private TcpFaultProxy Proxy(int port)
    {
        var proxy = new TcpFaultProxy(port);
        _disposables.Add(proxy);
        return proxy;
    }

    private MultiTierCache Cache(ICacheOps l2, TimeSpan tierTimeout, int threshold, TimeSpan breakDuration)
    {
        var options = new MultiTierCacheOptions
        {
            TierTimeout = tierTimeout,
            CircuitBreakerFailureThreshold = threshold,
            CircuitBreakerBreakDuration = breakDuration,
            BestEffortWrites = true,
        };
        options.Tiers.Add(ReliabilityKit.Memory());
        options.Tiers.Add(l2);
        var cache = new MultiTierCache(options);
        _disposables.Add(cache);
        return cache;
    }

    private ICacheOps Backend(string backend, int port, string prefix) => backend == "redis"
        ? ReliabilityKit.Redis(port, prefix)
        : ReliabilityKit.Memcached(port, prefix, TimeSpan.FromMilliseconds(800));

    [Theory]
    [InlineData("redis")]
    [InlineData("memcached")]
    public async Task SlowL2_TierTimeout_StaleAndFallbackServedOnTime_CircuitOpensThenClosesWhenHealed(string backend)
    {
        var proxy = Proxy(backend == "redis" ? _redis.Port : _memcached.Port);
        var prefix = ReliabilityKit.Prefix(nameof(SlowAndCutServerTests));
        var tierTimeout = TimeSpan.FromMilliseconds(250);
        var breakDuration = TimeSpan.FromMilliseconds(750);
        var cache = Cache(Backend(backend, proxy.Port, prefix), tierTimeout, threshold: 3, breakDuration);
        var stale = new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(1), AllowStaleOnFailure = true, FailSafeMaxDuration = TimeSpan.FromMinutes(5) };
        await cache.SetAsync("stale-key", "v1", stale);
        await Task.Delay(1300); // the entry's own (real) TTL runs out in L1 and in the server
        proxy.Latency = TimeSpan.FromSeconds(3);

        var watch = Stopwatch.StartNew();
        var value = await cache.GetOrSetAsync<string>("stale-key", _ => throw new InvalidOperationException("database down"), stale);
        var staleTime = watch.Elapsed;
        Assert.Equal("v1", value);

        watch.Restart();
        var fallback = await cache.GetOrSetAsync("cold-key", _ => new ValueTask<string>("from-factory"));
        var fallbackTime = watch.Elapsed;
        Assert.Equal("from-factory", fallback);

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 5; i++)
        {
            watch.Restart();
            Assert.False((await cache.GetAsync<string>($"missing{i}")).HasValue);
            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
        }

        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        watch.Restart();
        for (var i = 0; i < 100; i++)
        {
            await cache.GetAsync<string>($"open{i}");
        }

        var hundredReadsWhileOpen = watch.Elapsed;

        proxy.Heal();
        var recover = await ReliabilityKit.UntilAsync(async () =>
        {
            await cache.GetAsync<string>("probe");
            return cache.GetCircuitState(1) == CircuitState.Closed;
        }, TimeSpan.FromSeconds(30), "the circuit closing after the proxy healed", pollMs: 100);
        var direct = (ICacheOps)cache.Tiers[1];

        // Written through the cache, best effort under the 250 ms tier timeout: on a loaded machine a write can miss L2, so
        // it is written again until L2 holds it (checked before the cut below, which the single read after it is about).
        await ReliabilityKit.UntilAsync(async () =>
        {
            await cache.SetAsync("after", "ok");
            try
            {
                return (await direct.GetAsync<string>("after")).Value == "ok";
            }
            catch (CacheException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "'after' written through the cache to L2", pollMs: 100);

        // The value reached L2: read it straight from the backend, once, with no retry loop. For memcached the proxy first
        // cuts every connection, so the pooled ones are dead, as after a network blip: the client must notice that (or
        // retry once on a fresh connection) and answer, not fail the call and back the node off. (Redis's multiplexer
        // reconnects in the background instead; a cut there is covered by the test below.)
        if (backend == "memcached")
        {
            proxy.CutAll();
        }

        Assert.Equal("ok", (await direct.GetAsync<string>("after")).Value);

        _output.WriteLine($"[{backend}] latency 3 s, TierTimeout {tierTimeout.TotalMilliseconds} ms: stale served in {staleTime.TotalMilliseconds:F0} ms, " +
            $"factory fallback in {fallbackTime.TotalMilliseconds:F0} ms, slowest miss {slowest.TotalMilliseconds:F0} ms, " +
            $"100 reads with circuit open {hundredReadsWhileOpen.TotalMilliseconds:F0} ms, circuit closed {recover.TotalMilliseconds:F0} ms after heal");
        var ceiling = tierTimeout + TimeSpan.FromMilliseconds(1500); // generous for a loaded 2-core box, still far below the 3 s latency
        Assert.True(staleTime < ceiling, $"stale value took {staleTime}");
        Assert.True(fallbackTime < ceiling, $"fallback took {fallbackTime}");
        Assert.True(slowest < ceiling, $"a miss took {slowest}");
        Assert.True(hundredReadsWhileOpen < TimeSpan.FromSeconds(1), $"100 reads with the circuit open took {hundredReadsWhileOpen}");
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("memcached")]
    public async Task L2ConnectionsCutAndRefused_ReadsStayBounded_RecoversAfterHeal(string backend)
    {
        var proxy = Proxy(backend == "redis" ? _redis.Port : _memcached.Port);
        var prefix = ReliabilityKit.Prefix(nameof(SlowAndCutServerTests));
        var cache = Cache(Backend(backend, proxy.Port, prefix), TimeSpan.FromMilliseconds(300), threshold: 3, TimeSpan.FromMilliseconds(500));
        for (var i = 0; i < 20; i++)
        {
            await cache.SetAsync($"k{i}", i);
        }

        // The writes are best effort: on a loaded machine the first may have missed L2 while its connection was being
        // made, and the recovery below looks for k0 there. Make sure it is there before the fault.
        var l2 = (ICacheOps)cache.Tiers[1];
        await ReliabilityKit.UntilAsync(async () =>
        {
            try
            {
                await l2.SetAsync("k0", 0);
                return true;
            }
            catch (CacheException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "k0 written to L2 before the fault", pollMs: 100);

        var l1 = (InMemoryTier)cache.Tiers[0];
        proxy.RefuseNew = true;
        proxy.CutAll();
        var slowest = TimeSpan.Zero;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            var one = Stopwatch.StartNew();
            Assert.Equal(i, (await cache.GetAsync<int>($"k{i}")).Value); // L1 still has it
            l1.Remove($"k{i}");
            var miss = await cache.GetOrSetAsync($"k{i}", _ => new ValueTask<int>(-1));
            Assert.Equal(-1, miss); // L2 unreachable: the factory's value, on time
            slowest = one.Elapsed > slowest ? one.Elapsed : slowest;
        }

        var allReads = watch.Elapsed;
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));

        proxy.Heal();
        var recover = await ReliabilityKit.UntilAsync(async () =>
        {
            l1.Remove("k0");
            var r = await cache.GetAsync<int>("k0");
            return cache.GetCircuitState(1) == CircuitState.Closed && r.HasValue;
        }, TimeSpan.FromSeconds(30), "reads through L2 after the proxy healed", pollMs: 100);

        _output.WriteLine($"[{backend}] connections cut + refused: 40 reads in {allReads.TotalMilliseconds:F0} ms (slowest pair {slowest.TotalMilliseconds:F0} ms), " +
            $"L2 used again {recover.TotalMilliseconds:F0} ms after heal, proxy accepted {proxy.AcceptedConnections} connections");
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"a read pair took {slowest}");
        Assert.True(proxy.AcceptedConnections < 200, $"{proxy.AcceptedConnections} connection attempts: reconnects are not backing off");
    }

    [Fact]
    public async Task RedisBlackHole_EveryCallBoundedByTierTimeout_NoHang()
    {
        var proxy = Proxy(_redis.Port);
        var prefix = ReliabilityKit.Prefix(nameof(SlowAndCutServerTests));
        var cache = Cache(ReliabilityKit.Redis(proxy.Port, prefix), TimeSpan.FromMilliseconds(200), threshold: 1000, TimeSpan.FromSeconds(1));
        await cache.SetAsync("warm", 1);
        proxy.Drop = true;
        var watch = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, 50).Select(async i =>
        {
            var one = Stopwatch.StartNew();
            await cache.GetOrSetAsync($"bh{i}", _ => new ValueTask<int>(i));
            return one.Elapsed;
        }).ToArray();
        var times = await Task.WhenAll(tasks);
        var total = watch.Elapsed;
        _output.WriteLine($"[redis] black hole, 50 concurrent GetOrSet: slowest {times.Max().TotalMilliseconds:F0} ms, all in {total.TotalMilliseconds:F0} ms");
        Assert.True(times.Max() < TimeSpan.FromSeconds(2), $"slowest call {times.Max()}");
        Assert.Equal(Enumerable.Range(0, 50), await Task.WhenAll(Enumerable.Range(0, 50).Select(i => cache.GetAsync<int>($"bh{i}").AsTask().ContinueWith(t => t.Result.Value))));
    }
}
