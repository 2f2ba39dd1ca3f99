using StackExchange.Redis;
using TaiCache.Invalidation;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Redis;
using TaiCache.Tests.Tiering.Coherence;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Invalidation;

/// <summary>
/// Two instances, each with its own L1 and coherence channel, sharing a real Redis (L2, dependency graph, pub/sub):
/// a cascade run on one instance leaves no stale L1 copy on the other, even across a dropped subscriber connection.
/// </summary>
public sealed class BroadcastInvalidatorTests : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _redis;
    private readonly string _prefix = RedisTestHelpers.UniquePrefix(nameof(BroadcastInvalidatorTests), "run");
    private Instance _a = null!;
    private Instance _b = null!;

    public BroadcastInvalidatorTests(RedisServerFixture redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        _a = await Instance.StartAsync(_redis.ConnectionString, _prefix, "A");
        _b = await Instance.StartAsync(_redis.ConnectionString, _prefix, "B");
        await Wait.UntilAsync(() => _a.Coherence.IsCoherent && _b.Coherence.IsCoherent && _a.Coherence.MessagesReceived > 0 && _b.Coherence.MessagesReceived > 0, "both subscribed");
    }

    public async Task DisposeAsync()
    {
        await _a.Cache.DeleteByPatternAsync("*");
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Cascade_StartedOnA_DropsEveryLevelFromBsL1()
    {
        // A coherence resync on a loaded machine (a heartbeat heard late) clears B's L1: set again until none came between.
        for (var attempt = 0; ; attempt++)
        {
            var resyncs = _b.Coherence.ResyncCount;
            await _b.Manager.SetAsync("bc:product", "p1");
            await _b.Manager.SetAsync("bc:category", "c1");
            await _b.Manager.SetAsync("bc:page", "h1");
            if (_b.Coherence.ResyncCount == resyncs || attempt == 10)
            {
                break;
            }
        }

        await _b.Manager.AddDependencyAsync("bc:category", "bc:product");
        await _b.Manager.AddDependencyAsync("bc:page", "bc:category");
        Assert.True(_b.L1.TryGet<string>("bc:page", out _));

        var receipt = await _a.Manager.InvalidateAsync("bc:product");

        Assert.Equal("A", receipt.OriginInstance);
        Assert.Equal(_a.Coherence.InstanceId, _a.Manager.InstanceId);
        Assert.Equal(3, receipt.Keys.Count);
        Assert.True(receipt.Succeeded);
        await Wait.UntilAsync(() => !_b.L1.TryGet<string>("bc:product", out _) && !_b.L1.TryGet<string>("bc:category", out _) && !_b.L1.TryGet<string>("bc:page", out _), "B's L1 to drop the cascade");
        Assert.False((await _b.Manager.GetAsync<string>("bc:page")).HasValue, "B reads no stale value through L1 or L2");
    }

    [Fact]
    public async Task Broadcast_IsIdempotentAndIgnoresOwnMessages()
    {
        _a.L1.Set("bc:own", "a-only");
        await _b.Manager.SetAsync("bc:twice", "v");
        var resyncsBefore = _b.Coherence.ResyncCount;

        await _a.Broadcaster.PublishAsync(["bc:twice", "bc:own"]);
        await _a.Broadcaster.PublishAsync(["bc:twice", "bc:own"]);

        await Wait.UntilAsync(() => !_b.L1.TryGet<string>("bc:twice", out _), "B to drop the key");
        var marker = $"bc:marker:{Guid.NewGuid():N}";
        _b.L1.Set(marker, 1);
        await _a.Broadcaster.PublishAsync([marker]);
        await Wait.UntilAsync(() => !_b.L1.TryGet<int>(marker, out _), "the marker after both repeats");
        Assert.Equal(resyncsBefore, _b.Coherence.ResyncCount);
        Assert.True(_a.L1.TryGet<string>("bc:own", out _), "an instance ignores its own broadcast");
    }

    [Fact]
    public async Task PubSubGap_BsSubscriberKilled_NoStaleReadAfterReconnect()
    {
        const int Roots = 30;
        for (var i = 0; i < Roots; i++)
        {
            await _b.Manager.SetAsync($"gap:{i}", "v1");
            await _b.Manager.SetAsync($"gap:{i}:view", "v1");
            await _b.Manager.AddDependencyAsync($"gap:{i}:view", $"gap:{i}");
        }

        // Kill only B's subscription connection, found by its client name.
        var server = _a.Connection.GetServer(_a.Connection.GetEndPoints()[0]);
        var list = (string)(await server.ExecuteAsync("CLIENT", "LIST", "TYPE", "pubsub"))!;
        var line = list.Split('\n').Single(l => l.Contains($"name={_b.ClientName} ", StringComparison.Ordinal));
        var id = line.Split(' ').First(p => p.StartsWith("id=", StringComparison.Ordinal))[3..];
        Assert.Equal(1L, (long)await server.ExecuteAsync("CLIENT", "KILL", "ID", id, "TYPE", "pubsub"));

        // A invalidates every root (and so every view) while B's subscriber is away or coming back.
        var invalidated = new List<string>();
        for (var i = 0; i < Roots; i++)
        {
            var receipt = await _a.Manager.InvalidateAsync($"gap:{i}");
            invalidated.AddRange(receipt.Keys.Select(k => k.Key));
        }

        Assert.Equal(Roots * 2, invalidated.Count);
        await Wait.UntilAsync(() => _b.Coherence.ResyncCount > 0, "B to resynchronise after losing its subscription");
        await Wait.UntilAsync(() => _b.Coherence.IsCoherent, "B coherent again");

        var stale = new List<string>();
        foreach (var key in invalidated)
        {
            if (_b.L1.TryGet<string>(key, out _) || (await _b.Manager.GetAsync<string>(key)).HasValue)
            {
                stale.Add(key);
            }
        }

        Assert.Empty(stale);
    }

    private sealed class Instance : IAsyncDisposable
    {
        private Instance(ConnectionMultiplexer connection, string clientName, RedisCache cache, InMemoryTier l1, CacheCoherence coherence, BroadcastInvalidator broadcaster, InvalidationManager manager)
        {
            Connection = connection;
            ClientName = clientName;
            Cache = cache;
            L1 = l1;
            Coherence = coherence;
            Broadcaster = broadcaster;
            Manager = manager;
        }

        public ConnectionMultiplexer Connection { get; }

        public string ClientName { get; }

        public RedisCache Cache { get; }

        public InMemoryTier L1 { get; }

        public CacheCoherence Coherence { get; }

        public BroadcastInvalidator Broadcaster { get; }

        public InvalidationManager Manager { get; }

        public static async Task<Instance> StartAsync(string connectionString, string prefix, string name)
        {
            var clientName = $"taicache-inv-test-{name}-{Guid.NewGuid():N}"[..40];
            var config = ConfigurationOptions.Parse(connectionString);
            config.ClientName = clientName;
            config.AbortOnConnectFail = false;
            config.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
            config.ReconnectRetryPolicy = new LinearRetry(100);
            var connection = await ConnectionMultiplexer.ConnectAsync(config);
            var cache = new RedisCache(connection, new RedisCacheOptions { KeyPrefix = prefix });
            var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1-" + name, MaximumSize = 100_000 });
            var coherence = new CacheCoherence(connection, l1, new CacheCoherenceOptions { Namespace = prefix, InstanceId = name, HeartbeatInterval = TimeSpan.FromMilliseconds(500) });
            await coherence.StartAsync();
            var broadcaster = new BroadcastInvalidator(coherence);
            var manager = new InvalidationManager([l1, cache], new InvalidationManagerOptions { Redis = connection, RedisKeyPrefix = prefix + "inv:", Broadcaster = broadcaster });
            return new Instance(connection, clientName, cache, l1, coherence, broadcaster, manager);
        }

        public async ValueTask DisposeAsync()
        {
            await Manager.DisposeAsync();
            await Coherence.DisposeAsync();
            await Cache.DisposeAsync();
            await L1.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}
