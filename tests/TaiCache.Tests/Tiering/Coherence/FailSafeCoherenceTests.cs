using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// Fail-safe copies (<see cref="MultiTierEntryOptions.AllowStaleOnFailure"/>) and the peers' writes: a peer's set,
/// delete or clear heard through the coherence makes this instance forget its copy, so a read while its Redis tier is
/// down does not serve a value a peer overwrote or deleted. Two caches on one real redis-server; the reader's Redis tier
/// goes down through a <see cref="FaultyTier"/> around it.
/// </summary>
public sealed class FailSafeCoherenceTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private static readonly MultiTierEntryOptions FailSafe = new() { Ttl = TimeSpan.FromMinutes(10), AllowStaleOnFailure = true };
    private readonly OwnedDisposables _owned = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _owned.DisposeAsync();

    [Fact]
    public async Task GetAsync_RedisDown_NoPeerWrite_ServesTheFailSafeCopy()
    {
        var ns = $"failsafe-{Guid.NewGuid():N}";
        var (b, bRedis, _) = await InstanceAsync(ns, "b");
        var key = $"{ns}:k";
        await b.SetAsync(key, "v1", FailSafe);
        await b.Tiers[0].DeleteAsync(key); // L1 misses: the read goes down to Redis

        bRedis.Down = true;
        Assert.Equal("v1", (await b.GetAsync<string>(key, FailSafe)).Value);
    }

    [Theory]
    [InlineData("set")]
    [InlineData("delete")]
    [InlineData("clear")]
    public async Task GetAsync_RedisDown_AfterAPeerChangedTheKey_DoesNotServeTheFailSafeCopy(string change)
    {
        // The peer's invalidation dropped the key from L1 but not from the fail-safe store: with Redis down, the read
        // fell back to the value the peer had overwritten (or deleted).
        var ns = $"failsafe-{Guid.NewGuid():N}";
        var (a, _, aCoherence) = await InstanceAsync(ns, "a");
        var (b, bRedis, bCoherence) = await InstanceAsync(ns, "b");
        var key = $"{ns}:k";
        await b.SetAsync(key, "v1", FailSafe);

        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bCoherence.RemoteInvalidation += (_, e) =>
        {
            if (e.IsClear || e.Keys.Contains(key))
            {
                heard.TrySetResult();
            }
        };
        switch (change)
        {
            case "set":
                await a.SetAsync(key, "v2");
                break;
            case "delete":
                await a.DeleteAsync(key);
                break;
            default:
                await aCoherence.PublishClearAsync();
                break;
        }

        await heard.Task.WaitAsync(Wait.Ceiling);
        bRedis.Down = true;
        Assert.False((await b.GetAsync<string>(key, FailSafe)).HasValue);
    }

    [Fact]
    public async Task GetAsync_RedisDown_AfterAGapInAPeersNumbers_DoesNotServeTheFailSafeCopy()
    {
        // The invalidation lost in the gap may have been about any key: the resync (raised while coherent) forgets them all.
        var ns = $"failsafe-{Guid.NewGuid():N}";
        var (b, bRedis, bCoherence) = await InstanceAsync(ns, "b");
        var key = $"{ns}:k";
        await b.SetAsync(key, "v1", FailSafe);
        var gap = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bCoherence.Resynchronized += (_, e) =>
        {
            if (e.Reason == CoherenceResyncReason.SequenceGap)
            {
                gap.TrySetResult();
            }
        };
        await using var raw = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var channel = StackExchange.Redis.RedisChannel.Literal(bCoherence.ChannelName);
        await raw.GetSubscriber().PublishAsync(channel, CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "peer", 7, 1, [$"{ns}:other"]));
        await raw.GetSubscriber().PublishAsync(channel, CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "peer", 7, 3, [$"{ns}:other"])); // 2 was lost

        await gap.Task.WaitAsync(Wait.Ceiling);
        bRedis.Down = true;
        Assert.False((await b.GetAsync<string>(key, FailSafe)).HasValue);
    }

    private async Task<(MultiTierCache Cache, FaultyTier Redis, CacheCoherence Coherence)> InstanceAsync(string ns, string name)
    {
        var redisTier = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { Name = "redis", KeyPrefix = "fsc:" });
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000 });
        var coherence = new CacheCoherence(await redisTier.GetMultiplexerAsync(), l1, new CacheCoherenceOptions { Namespace = ns, InstanceId = name, HeartbeatInterval = TimeSpan.FromMinutes(10) });
        await coherence.StartAsync();
        await Wait.UntilAsync(() => coherence.MessagesReceived > 0 && coherence.IsCoherent, "own heartbeat echo");
        var faulty = new FaultyTier(redisTier);
        var options = new MultiTierCacheOptions { Name = name, Coherence = coherence, CircuitBreakerFailureThreshold = 0 };
        options.Tiers.Add(l1);
        options.Tiers.Add(faulty);
        var cache = new MultiTierCache(options);
        _owned.Add(cache);
        _owned.Add(coherence);
        return (cache, faulty, coherence);
    }
}
