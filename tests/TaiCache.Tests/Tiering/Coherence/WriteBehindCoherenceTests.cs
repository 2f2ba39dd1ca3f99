using System.Collections.Concurrent;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>Write-behind with coherence: the peers hear a write once the flusher put it in a shared tier.</summary>
public sealed class WriteBehindCoherenceTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly OwnedDisposables _owned = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _heard = new(StringComparer.Ordinal);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _owned.DisposeAsync();

    [Fact]
    public async Task Flush_RedisTakesTheSet_ATierBelowItKeepsFailing_ThePeersAreToldAtOnce()
    {
        // A: L1, Redis, then a tier of its own that is down. Redis takes the queued set in the flusher's first round; the
        // tier below fails and is retried. The peers must not keep their copy of the older value until it recovers (or
        // for good, once the set is dead-lettered).
        var ns = $"wbc-{Guid.NewGuid():N}";
        var below = new FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "below" }), "below");
        var (a, _, _) = await InstanceAsync(ns, "a", o =>
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind = new WriteBehindOptions { RetryBaseDelay = TimeSpan.FromSeconds(30), RetryMaxDelay = TimeSpan.FromSeconds(30), DrainTimeout = TimeSpan.FromSeconds(1) };
            o.Tiers.Add(below);
        });
        var (b, bL1, bRedis) = await InstanceAsync(ns, "b");
        var key = $"{ns}:k";
        await a.SetAsync(key, "v1");
        await a.FlushAsync();
        await Wait.UntilAsync(() => _heard["b"].Contains(key), "b to hear v1's invalidation");
        Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);
        Assert.True(bL1.TryGet<string>(key, out _));

        below.Down = true;
        await a.SetAsync(key, "v2");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (await bRedis.GetAsync<string>(key) is not { HasValue: true, Value: "v2" })
        {
            Assert.True(watch.Elapsed < Wait.Ceiling, "the flusher never wrote v2 to Redis");
            await Task.Delay(10);
        }

        await Wait.UntilAsync(() => !bL1.TryGet<string>(key, out _), "b to drop its copy of v1 once Redis holds v2", TimeSpan.FromSeconds(5));
        Assert.Equal("v2", (await b.GetAsync<string>(key)).Value);
    }

    private async Task<(MultiTierCache Cache, InMemoryTier L1, RedisCache Redis)> InstanceAsync(string ns, string name, Action<MultiTierCacheOptions>? configure = null)
    {
        var redis = await RedisCache.ConnectAsync(server.ConnectionString, new RedisCacheOptions { Name = "redis", KeyPrefix = "wbc:" });
        var l1 = TierTestKit.Memory("L1");
        var coherence = new CacheCoherence(await redis.GetMultiplexerAsync(), l1, new CacheCoherenceOptions { Namespace = ns, InstanceId = name });
        var heard = _heard.GetOrAdd(name, _ => new ConcurrentQueue<string>());
        coherence.RemoteInvalidation += (_, e) =>
        {
            foreach (var key in e.Keys)
            {
                heard.Enqueue(key);
            }
        };
        await coherence.StartAsync();
        await Wait.UntilAsync(() => coherence.MessagesReceived > 0 && coherence.IsCoherent, "own heartbeat echo");
        var options = new MultiTierCacheOptions { Name = name, Coherence = coherence };
        options.Tiers.Add(l1);
        options.Tiers.Add(redis);
        configure?.Invoke(options);
        var cache = new MultiTierCache(options);
        _owned.Add(cache);
        _owned.Add(coherence);
        return (cache, l1, redis);
    }
}
