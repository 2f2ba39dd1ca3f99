using System.Collections.Concurrent;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// A write-through set or delete with coherence on the Redis tier's own connection: the invalidation goes out right
/// behind the write, on the same connection, so the two cost one round trip, and a peer still reads the new value.
/// Each test pauses its own redis-server (CLIENT PAUSE), so nothing else waits on it.
/// </summary>
public sealed class WriteThroughCoherenceTests : IAsyncLifetime
{
    private readonly OwnedDisposables _owned = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _heard = new(StringComparer.Ordinal);
    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerFixture.StartRedisAsync(FreePort.Next());

    public async Task DisposeAsync()
    {
        await _owned.DisposeAsync();

        await _server.DisposeAsync();
    }

    [Fact]
    public async Task SetAsync_InvalidationIssuedBehindTheSet_BeforeItsReply_PeerReadsNewValue()
    {
        var (a, aRedis, b, bL1, key) = await PeerHoldingV1Async();

        // While the server holds every command, the set's frame has issued both the SET and the PUBLISH: two commands
        // outstanding on the interactive connection (one, had it waited for the SET's reply before publishing).
        var outstanding = await WhilePausedAsync(aRedis, () => a.SetAsync(key, "v2").AsTask());
        Assert.Equal(2, outstanding);

        await TierTestKit.Eventually(() => !bL1.TryGet<string>(key, out var seen) || seen == "v2", TimeSpan.FromSeconds(10));
        Assert.Equal("v2", (await b.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task EagerRefresh_ReplacesTheValueInRedis_AndThePeersHearIt_SoTheyReadTheNewValue()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var (a, aL1, _) = await InstanceAsync("a", time: time);
        var (b, bL1, _) = await InstanceAsync("b", time: time);
        var key = $"wtc:{Guid.NewGuid():N}";
        var entry = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(10), EagerRefreshThreshold = 0.8 };
        var version = 0;
        ValueTask<string> Load(CancellationToken _) => ValueTask.FromResult("v" + Interlocked.Increment(ref version));
        Assert.Equal("v1", await a.GetOrSetAsync(key, Load, entry));
        Assert.Equal("v1", await b.GetOrSetAsync(key, Load, entry)); // from Redis, copied into b's L1
        Assert.True(bL1.TryGet<string>(key, out _));

        time.Advance(TimeSpan.FromMinutes(9));
        await HeardByAsync("b", [key], async () =>
        {
            Assert.Equal("v1", await a.GetOrSetAsync(key, Load, entry)); // returned at once; the refresh runs behind it
            await TierTestKit.Eventually(() => aL1.TryGet<string>(key, out var v) && v == "v2", TimeSpan.FromSeconds(10));
        });

        Assert.False(bL1.TryGet<string>(key, out _));
        Assert.Equal("v2", await b.GetOrSetAsync(key, Load, entry)); // Redis holds the refreshed value
        Assert.Equal(2, Volatile.Read(ref version));
    }

    [Fact]
    public async Task EagerRefresh_APeersWriteWhileTheFactoryRuns_SupersedesIt_ThePeersValueStays()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var (a, aL1, aRedis) = await InstanceAsync("a", time: time);
        var (b, _, _) = await InstanceAsync("b", time: time);
        var key = $"wtc:{Guid.NewGuid():N}";
        var entry = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(10), EagerRefreshThreshold = 0.8 };
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        async ValueTask<string> Load(CancellationToken _)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                return "v1";
            }

            started.TrySetResult();
            await release.Task;
            return "refreshed, older than b's write";
        }

        Assert.Equal("v1", await a.GetOrSetAsync(key, Load, entry));
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v1", await a.GetOrSetAsync(key, Load, entry)); // starts a's refresh
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // b's write reaches a's coherence while a's factory still runs: a's refresh must not replace it.
        await HeardByAsync("a", [key], async () => await b.SetAsync(key, "from b"));
        release.SetResult();
        await TierTestKit.Eventually(() => Volatile.Read(ref calls) == 2);
        await Task.Delay(200);

        Assert.Equal("from b", (await aRedis.GetAsync<string>(key)).Value);
        Assert.False(aL1.TryGet<string>(key, out var held) && held != "from b", $"a's L1 holds '{held}'");
        Assert.Equal("from b", await a.GetOrSetAsync(key, Load, entry));
    }

    [Fact]
    public async Task SetAsync_SkipDistributedWrite_DoesNotTellPeers_SkipMemoryWriteDoes()
    {
        var (a, aL1, _) = await InstanceAsync("a");
        var (b, bL1, _) = await InstanceAsync("b");
        var local = $"wtc:{Guid.NewGuid():N}";
        var marker = $"wtc:{Guid.NewGuid():N}";
        await HeardByAsync("b", [local, marker], async () =>
        {
            await a.SetAsync(local, "shared");
            await a.SetAsync(marker, "m");
        });
        Assert.Equal("shared", (await b.GetAsync<string>(local)).Value);
        Assert.Equal("m", (await b.GetAsync<string>(marker)).Value);

        await a.SetAsync(local, "only a", new MultiTierEntryOptions { SkipDistributedWrite = true });
        await a.SetAsync(marker, "m2"); // published after anything the set above would have published
        await TierTestKit.Eventually(() => !bL1.TryGet<string>(marker, out _), TimeSpan.FromSeconds(10));

        Assert.True(bL1.TryGet<string>(local, out var kept) && kept == "shared"); // Redis still holds it: nothing to evict
        Assert.True(aL1.TryGet<string>(local, out var own) && own == "only a");

        await a.SetAsync(local, "in redis", new MultiTierEntryOptions { SkipMemoryWrite = true });
        await TierTestKit.Eventually(() => !bL1.TryGet<string>(local, out _), TimeSpan.FromSeconds(10));
        Assert.Equal("in redis", (await b.GetAsync<string>(local)).Value);
        Assert.False(aL1.TryGet<string>(local, out _));
    }

    [Fact]
    public async Task DeleteAsync_InvalidationIssuedBehindTheDelete_PeerDropsKey()
    {
        var (a, _, aRedis) = await InstanceAsync("a");
        var (b, bL1, _) = await InstanceAsync("b");
        var key = $"wtc:{Guid.NewGuid():N}";
        await a.SetAsync(key, "v1");
        Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);

        var outstanding = await WhilePausedAsync(aRedis, () => a.DeleteAsync(key).AsTask());
        Assert.Equal(2, outstanding);

        await TierTestKit.Eventually(() => !bL1.TryGet<string>(key, out _), TimeSpan.FromSeconds(10));
        Assert.False((await b.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task SetManyAsync_InvalidationIssuedBehindTheBatch_PeerReadsNewValues()
    {
        var (a, _, aRedis) = await InstanceAsync("a");
        var (b, bL1, _) = await InstanceAsync("b");
        var keys = Enumerable.Range(0, 3).Select(_ => $"wtc:{Guid.NewGuid():N}").ToList();
        await HeardByAsync("b", keys, () => a.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, "v1"))).AsTask());
        Assert.Equal(3, (await b.GetManyAsync<string>(keys)).Count);
        Assert.All(keys, k => Assert.True(bL1.TryGet<string>(k, out _)));

        // Three SETs and the PUBLISH behind them, all outstanding at once (three, had it waited for the batch's replies).
        var outstanding = await WhilePausedAsync(aRedis, () => a.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, "v2"))).AsTask());
        Assert.Equal(4, outstanding);

        await TierTestKit.Eventually(() => keys.All(k => !bL1.TryGet<string>(k, out var seen) || seen == "v2"), TimeSpan.FromSeconds(10));
        Assert.All((await b.GetManyAsync<string>(keys)).Values, v => Assert.Equal("v2", v));
    }

    [Fact]
    public async Task DeleteManyAsync_InvalidationIssuedBehindTheDelete_PeerDropsKeys()
    {
        var (a, _, aRedis) = await InstanceAsync("a");
        var (b, bL1, _) = await InstanceAsync("b");
        var keys = Enumerable.Range(0, 3).Select(_ => $"wtc:{Guid.NewGuid():N}").ToList();
        await a.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, "v1")));
        Assert.Equal(3, (await b.GetManyAsync<string>(keys)).Count);

        // One DEL for the three keys, and the PUBLISH behind it.
        var outstanding = await WhilePausedAsync(aRedis, () => a.DeleteManyAsync(keys).AsTask());
        Assert.Equal(2, outstanding);

        await TierTestKit.Eventually(() => keys.All(k => !bL1.TryGet<string>(k, out _)), TimeSpan.FromSeconds(10));
        Assert.Empty(await b.GetManyAsync<string>(keys));
    }

    [Fact]
    public async Task SetAsync_CoherenceOnAnotherConnection_PublishesAfterTheSet()
    {
        // A dedicated coherence connection gives no order between its PUBLISH and the tier's SET: the set waits for its
        // reply before publishing, so only the SET is outstanding on the tier's connection.
        var (a, _, aRedis) = await InstanceAsync("a", dedicatedCoherenceConnection: true);
        var (b, bL1, _) = await InstanceAsync("b");
        var key = $"wtc:{Guid.NewGuid():N}";
        await a.SetAsync(key, "v1");
        Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);

        var outstanding = await WhilePausedAsync(aRedis, () => a.SetAsync(key, "v2").AsTask());
        Assert.Equal(1, outstanding);

        await TierTestKit.Eventually(() => !bL1.TryGet<string>(key, out var seen) || seen == "v2", TimeSpan.FromSeconds(10));
        Assert.Equal("v2", (await b.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task SetAsync_RefusedByRedis_WhichThenDropsItsOlderValue_StillTellsThePeers()
    {
        // The value cannot be serialized: Redis refuses the set at once, its older value is deleted (it must not be read
        // back over the new one) and the set fails. The peers' L1 copies of that older value must go with it.
        var (a, aRedis, b, bL1, key) = await PeerHoldingV1Async();

        await Assert.ThrowsAsync<TierWriteException>(async () => await a.SetAsync(key, new Unserializable()));
        Assert.False(await aRedis.ExistsAsync(key)); // the older value is gone from Redis

        await Wait.UntilAsync(() => !bL1.TryGet<string>(key, out _), "the peer to drop its copy of the deleted value", TimeSpan.FromSeconds(5));
        Assert.False((await b.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task ExpireAsync_RedisTakesTheNewTtl_ATierAboveItFails_StillTellsThePeers()
    {
        // A: L1, a tier of its own (down), then Redis. The expiry goes lowest first: Redis takes it, the tier above
        // refuses it and the call throws. The peers' L1 copies must not outlive the value's new, shorter life in Redis.
        var middle = new FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "middle" }), "middle");
        var (a, _, aRedis) = await InstanceAsync("a", configure: o => o.Tiers.Insert(1, middle));
        var (b, bL1, _) = await InstanceAsync("b");
        var key = $"wtc:{Guid.NewGuid():N}";
        await HeardByAsync("b", [key], () => a.SetAsync(key, "v1", TimeSpan.FromHours(1)).AsTask());
        Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);
        Assert.True(bL1.TryGet<string>(key, out _));

        middle.Down = true;
        await Assert.ThrowsAsync<TierWriteException>(async () => await a.ExpireAsync(key, TimeSpan.FromMinutes(1)));
        Assert.True((await aRedis.TtlAsync(key)).Value <= TimeSpan.FromMinutes(1)); // Redis took it

        await Wait.UntilAsync(() => !bL1.TryGet<string>(key, out _), "the peer to drop its copy with the older TTL", TimeSpan.FromSeconds(5));
    }

    // The peer hears every write's invalidation, even the first one of a key: one that arrives late, while the peer reads
    // the key through, would (rightly) keep the peer from copying what it read into L1, so setups wait for it.
    /// <summary>Two instances, a key instance a set to "v1" and instance b read into its L1.</summary>
    private async Task<(MultiTierCache A, RedisCache ARedis, MultiTierCache B, InMemoryTier BL1, string Key)> PeerHoldingV1Async()
    {
        var (a, _, aRedis) = await InstanceAsync("a");
        var (b, bL1, _) = await InstanceAsync("b");
        var key = $"wtc:{Guid.NewGuid():N}";
        await HeardByAsync("b", [key], () => a.SetAsync(key, "v1").AsTask());
        Assert.Equal("v1", (await b.GetAsync<string>(key)).Value);
        Assert.True(bL1.TryGet<string>(key, out _));
        return (a, aRedis, b, bL1, key);
    }

    private async Task HeardByAsync(string peer, IReadOnlyCollection<string> keys, Func<Task> write)
    {
        await write();
        var heard = _heard[peer];
        await Wait.UntilAsync(() => keys.All(heard.Contains), $"{peer} to hear the invalidation of {keys.Count} key(s)");
    }

    /// <summary>
    /// Pauses the server for a second (every client, this one's too: the pause simply runs out), starts
    /// <paramref name="write"/>, counts the commands outstanding on the tier's interactive connection, and awaits the write.
    /// </summary>
    private async Task<long> WhilePausedAsync(RedisCache tier, Func<Task> write)
    {
        var multiplexer = await tier.GetMultiplexerAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port},allowAdmin=true");
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "1000");
        var pending = write();
        var outstanding = multiplexer.GetCounters().Interactive.TotalOutstanding;
        await pending;
        return outstanding;
    }

    private async Task<(MultiTierCache Cache, InMemoryTier L1, RedisCache Redis)> InstanceAsync(string name, bool dedicatedCoherenceConnection = false, TimeProvider? time = null, Action<MultiTierCacheOptions>? configure = null)
    {
        time ??= TimeProvider.System;
        var redis = await RedisCache.ConnectAsync($"127.0.0.1:{_server.Port}", new RedisCacheOptions { Name = "redis", KeyPrefix = "wtc:", TimeProvider = time });
        var l1 = TierTestKit.Memory("L1", time);
        IConnectionMultiplexer multiplexer = dedicatedCoherenceConnection
            ? await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port}")
            : await redis.GetMultiplexerAsync();
        var coherence = new CacheCoherence(multiplexer, l1, new CacheCoherenceOptions { Namespace = "wtc", InstanceId = name, HeartbeatInterval = TimeSpan.FromMinutes(10) });
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
        var options = new MultiTierCacheOptions { Name = name, Coherence = coherence, TimeProvider = time };
        options.Tiers.Add(l1);
        options.Tiers.Add(redis);
        configure?.Invoke(options);
        var cache = new MultiTierCache(options);
        _owned.Add(cache);
        _owned.Add(coherence);
        if (dedicatedCoherenceConnection)
        {
            _owned.Add((ConnectionMultiplexer)multiplexer);
        }

        return (cache, l1, redis);
    }

    /// <summary>A value MessagePack cannot write: its only member throws when read.</summary>
    public sealed class Unserializable
    {
        public int Value
        {
            get => throw new InvalidOperationException("not serializable");
            set => _ = value;
        }
    }
}
