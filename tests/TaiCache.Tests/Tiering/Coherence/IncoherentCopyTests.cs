using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// While its coherence cannot vouch for L1 (the subscription down, unconfirmed or silent), a multi-tier cache copies
/// nothing read from Redis into L1: a peer's write in that gap would leave such a copy stale, its invalidation lost.
/// Each test pauses its own redis-server's writes (CLIENT PAUSE WRITE): PUBLISH is held, so the instance stops hearing
/// its own heartbeat and goes silent, while GET and MGET on the cache's own connection still answer.
/// </summary>
public sealed class IncoherentCopyTests : IAsyncLifetime
{
    private readonly OwnedDisposables _owned = new();
    private ServerProcess _server = null!;
    private ConnectionMultiplexer _raw = null!;

    public async Task InitializeAsync()
    {
        _server = await RedisServerFixture.StartRedisAsync(FreePort.Next());
        _raw = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port}");
    }

    public async Task DisposeAsync()
    {
        await _owned.DisposeAsync();

        await _raw.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Reads_WhileTheSubscriptionIsSilent_CopyNothingIntoL1_AndCopyAgainOnceItIsHeard()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, coherence, redis) = await InstanceAsync(time);
        var single = $"single:{Guid.NewGuid():N}";
        var batch = Enumerable.Range(0, 3).Select(i => $"batch:{Guid.NewGuid():N}:{i}").ToArray();
        var loaded = $"loaded:{Guid.NewGuid():N}";
        foreach (var key in batch.Prepend(single).Append(loaded))
        {
            await redis.SetAsync(key, "stored");
        }

        await WhileSilentAsync(time, coherence, async () =>
        {
            Assert.Equal("stored", (await cache.GetAsync<string>(single)).Value);
            var many = await cache.GetManyAsync<string>(batch);
            Assert.Equal(batch.Length, many.Count);
            Assert.Equal("stored", await cache.GetOrSetAsync(loaded, _ => ValueTask.FromResult("from the factory")));

            Assert.Equal(0, l1.Count); // served from Redis, kept nowhere above it
        });

        await Wait.UntilAsync(() => coherence.IsCoherent && coherence.ResyncCount >= 2, "coherent again (held heartbeats heard)");
        Assert.Equal("stored", (await cache.GetAsync<string>(single)).Value);
        await cache.GetManyAsync<string>(batch);
        Assert.True(l1.TryGet<string>(single, out _));
        Assert.All(batch, key => Assert.True(l1.TryGet<string>(key, out _), key));
    }

    [Fact]
    public async Task FactoryValues_WhileIncoherentAndL2Down_StillGoToL1_SoEachReadDoesNotLoadAgain()
    {
        // Redis as L2 is down for the cache (a faulty tier stands for it) while the coherence is silent: the factory's
        // value is this instance's own, kept in L1 as a write is; were it refused, every read would run the factory.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l2 = new FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "inner" }), "L2") { Down = true };
        var (cache, l1, coherence, _) = await InstanceAsync(time, o => o.Tiers[1] = l2);
        var key = $"factory:{Guid.NewGuid():N}";
        var loads = 0;
        ValueTask<string> Load(CancellationToken _) => ValueTask.FromResult($"v{Interlocked.Increment(ref loads)}");
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(5) };
        await WhileSilentAsync(time, coherence, async () =>
        {
            Assert.Equal("v1", await cache.GetOrSetAsync(key, Load, options));
            Assert.Equal("v1", await cache.GetOrSetAsync(key, Load, options));
            Assert.Equal(1, loads);
            Assert.True(l1.TryGet<string>(key, out _));
        });
    }

    [Fact]
    public async Task Writes_WhileTheSubscriptionIsSilent_StillReachL1()
    {
        // Only copies of shared values are refused: a write-behind set lives in L1 (and the queue) until it is flushed.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, coherence, _) = await InstanceAsync(time, o => o.WriteStrategy = WriteStrategy.WriteBehind);
        var key = $"written:{Guid.NewGuid():N}";
        await WhileSilentAsync(time, coherence, async () =>
        {
            await cache.SetAsync(key, "mine");
            Assert.True(l1.TryGet<string>(key, out var value));
            Assert.Equal("mine", value);
        });
    }

    /// <summary>Runs <paramref name="body"/> while the server holds writes and the coherence has gone silent.</summary>
    private async Task WhileSilentAsync(FakeTimeProvider time, CacheCoherence coherence, Func<Task> body)
    {
        var server = _raw.GetServer(_raw.GetEndPoints()[0]);
        await server.ExecuteAsync("CLIENT", "PAUSE", "10000", "WRITE");
        try
        {
            time.Advance(TimeSpan.FromSeconds(21)); // four heartbeat periods, limit 3 x 5 s: silent
            Assert.False(coherence.IsCoherent);
            await body();
        }
        finally
        {
            await server.ExecuteAsync("CLIENT", "UNPAUSE");
        }
    }

    private async Task<(MultiTierCache Cache, InMemoryTier L1, CacheCoherence Coherence, RedisCache Redis)> InstanceAsync(FakeTimeProvider coherenceTime, Action<MultiTierCacheOptions>? configure = null)
    {
        var redis = await RedisCache.ConnectAsync($"127.0.0.1:{_server.Port}", new RedisCacheOptions { Name = "redis", KeyPrefix = "icc:" });
        var l1 = TierTestKit.Memory("L1");
        // Its own connection: the held heartbeat PUBLISHes must not hold the cache's GETs behind them.
        var multiplexer = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port}");
        _owned.Add(multiplexer);
        var coherence = new CacheCoherence(multiplexer, l1, new CacheCoherenceOptions { Namespace = "icc", TimeProvider = coherenceTime });
        await coherence.StartAsync();
        await Wait.UntilAsync(() => coherence.MessagesReceived > 0 && coherence.IsCoherent, "own heartbeat echo");
        var options = new MultiTierCacheOptions { Name = "icc", Coherence = coherence };
        options.Tiers.Add(l1);
        options.Tiers.Add(redis);
        configure?.Invoke(options);
        if (!options.Tiers.Contains(redis))
        {
            _owned.Add(redis);
        }

        var cache = new MultiTierCache(options);
        _owned.Add(cache);
        _owned.Add(coherence);
        return (cache, l1, coherence, redis);
    }
}
