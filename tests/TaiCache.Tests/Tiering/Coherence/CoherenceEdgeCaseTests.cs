using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>Edge cases of <see cref="CacheCoherence"/> on a real redis-server: restarts, lost messages, odd keys, a set racing a peer's.</summary>
public sealed class CoherenceEdgeCaseTests : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _redis;
    private readonly OwnedDisposables _owned = new();

    public CoherenceEdgeCaseTests(RedisServerFixture redis) => _redis = redis;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _owned.DisposeAsync();

    /// <summary>
    /// A peer silent for 20 heartbeat intervals (its connection down for 100 s with the defaults, or a longer interval of
    /// its own) is pruned; when it comes back under the same incarnation with a number past the one last heard, the
    /// messages in between were lost here: the gap is seen and L1 cleared, as for a peer never forgotten.
    /// </summary>
    [Fact]
    public async Task Coherence_PeerSilentForTwentyIntervals_ThenSequenceJumps_StillClearsL1()
    {
        var ns = Namespace();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var b = await Node(ns, "b", o => o.TimeProvider = time);
        await b.WaitSubscribedAsync();
        await using var raw = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var channel = RedisChannel.Literal(b.Coherence.ChannelName);
        const ulong Incarnation = 7;

        await raw.GetSubscriber().PublishAsync(channel, CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "peer-a", Incarnation, 1, [$"{ns}:k1"]));
        await Wait.UntilAsync(() => b.Invalidations.Count == 1, "peer-a's first invalidation");
        b.Tier.Set($"{ns}:k2", "old"); // peer-a's invalidation #2 of k2 will be lost (its publish failed)

        for (var beat = 0; beat < 21; beat++)
        {
            // One heartbeat period at a time, each echo heard: b's own subscription stays healthy (no silence resync).
            var heard = b.Coherence.MessagesReceived;
            time.Advance(TimeSpan.FromSeconds(5));
            await Wait.UntilAsync(() => b.Coherence.MessagesReceived > heard, "b's own heartbeat echo");
        }

        Assert.Empty(b.MessageResyncs);
        await raw.GetSubscriber().PublishAsync(channel, CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "peer-a", Incarnation, 3, [$"{ns}:k3"]));
        await Wait.UntilAsync(() => b.Invalidations.Count == 2, "peer-a's invalidation #3");
        Assert.Equal(1, b.Coherence.SequenceGapCount);
        Assert.False(b.Tier.TryGet<string>($"{ns}:k2", out _), "k2's invalidation #2 was lost; L1 must be cleared");
    }

    /// <summary>
    /// Two live peers configured with one <see cref="CacheCoherenceOptions.InstanceId"/> (two processes on a machine whose
    /// name was taken for it) differ only by incarnation. Tracked by id alone, each one's message looked like a restart
    /// of the other, a new baseline every time, so neither one's lost invalidations were ever noticed.
    /// </summary>
    [Fact]
    public async Task Coherence_TwoPeersSharingAnInstanceId_EachOnesSequenceGapIsStillSeen()
    {
        var ns = Namespace();
        var b = await Node(ns, "b");
        await b.WaitSubscribedAsync();
        await using var raw = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var channel = RedisChannel.Literal(b.Coherence.ChannelName);
        Task Publish(ulong incarnation, long sequence, string key) =>
            raw.GetSubscriber().PublishAsync(channel, CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "web", incarnation, sequence, [$"{ns}:{key}"]));

        await Publish(1, 1, "k1");
        await Publish(2, 1, "k2");
        await Wait.UntilAsync(() => b.Invalidations.Count == 2, "both peers' first invalidations");
        b.Tier.Set($"{ns}:k3", "old"); // web#1's invalidation #2 of k3 is lost
        await Publish(2, 2, "k4");
        await Publish(1, 3, "k5");
        await Wait.UntilAsync(() => b.Invalidations.Count == 4, "both peers' next invalidations");

        Assert.Equal(1, b.Coherence.SequenceGapCount);
        Assert.False(b.Tier.TryGet<string>($"{ns}:k3", out _), "web#1's invalidation #2 was lost; L1 must be cleared");
    }

    /// <summary>A heartbeat interval longer than a timer can take (about 49.7 days) is refused by validation, naming the option.</summary>
    [Fact]
    public void Coherence_HeartbeatIntervalTheTimerCannotTake_IsRefusedByValidate()
    {
        var options = new CacheCoherenceOptions { HeartbeatInterval = TimeSpan.FromDays(60) };
        var ex = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Contains("HeartbeatInterval", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A silence limit (interval x missed heartbeats) past what a TimeSpan holds threw OverflowException in the heartbeat
    /// timer's callback, which ends the process; and more keys per message than any reader takes made every large
    /// invalidation unreadable to the peers (each one a clear of their L1). Both are refused by validation, naming the option.
    /// </summary>
    [Fact]
    public void Coherence_OptionsThatBreakItAtRunTime_AreRefusedByValidate()
    {
        var overflow = new CacheCoherenceOptions { HeartbeatInterval = TimeSpan.FromDays(49), MissedHeartbeatsBeforeResync = int.MaxValue };
        var ex = Assert.ThrowsAny<ArgumentException>(overflow.Validate);
        Assert.Contains("MissedHeartbeatsBeforeResync", ex.Message, StringComparison.Ordinal);

        var tooMany = new CacheCoherenceOptions { MaxKeysPerMessage = 2_000_000 };
        ex = Assert.ThrowsAny<ArgumentException>(tooMany.Validate);
        Assert.Contains("MaxKeysPerMessage", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A publish timeout that is not positive, or longer than an hour, is refused by validation, naming the option; null is taken.</summary>
    [Fact]
    public void Coherence_PublishTimeoutOutOfRange_IsRefusedByValidate()
    {
        foreach (var bad in new[] { TimeSpan.Zero, TimeSpan.FromHours(2) })
        {
            var ex = Assert.ThrowsAny<ArgumentException>(new CacheCoherenceOptions { PublishTimeout = bad }.Validate);
            Assert.Contains("PublishTimeout", ex.Message, StringComparison.Ordinal);
        }

        new CacheCoherenceOptions { PublishTimeout = null }.Validate();
    }

    /// <summary>DisposeAsync while redis-server is down does not hang (it unsubscribes over a dead connection).</summary>
    [Fact]
    public async Task Coherence_DisposeWhileRedisDown_CompletesPromptly()
    {
        await using var server = await RedisServerFixture.StartRedisAsync(FreePort.Next());
        var node = await CoherenceTestNode.StartAsync($"127.0.0.1:{server.Port},abortConnect=false", Namespace(), "d");
        await node.WaitSubscribedAsync();
        server.Kill();
        await Wait.UntilAsync(() => !node.Coherence.IsCoherent, "the failure noticed");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await node.Coherence.DisposeAsync();
        sw.Stop();
        await node.DisposeAsync();
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"DisposeAsync took {sw.Elapsed}");
    }

    /// <summary>
    /// A StartAsync cancelled while subscribing leaves the instance not started: a retried StartAsync (as the DI
    /// registration's retry loop makes it) subscribes, and peers' invalidations arrive.
    /// </summary>
    [Fact]
    public async Task Coherence_StartAsyncCancelledOnce_RetrySubscribes_AndPeersInvalidationsArrive()
    {
        var ns = Namespace();
        var peer = await Node(ns, "peer");
        await peer.WaitSubscribedAsync();
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000 });
        var coherence = new CacheCoherence(multiplexer, tier, new CacheCoherenceOptions { Namespace = ns, InstanceId = "victim" });
        _owned.Add(multiplexer);
        _owned.Add(tier);
        _owned.Add(coherence);

        using (var cts = new CancellationTokenSource())
        {
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => coherence.StartAsync(cts.Token));
        }

        await coherence.StartAsync(); // the caller retries, as TaiCacheInstance.StartCoherenceAsync does
        var key = $"{ns}:k";
        tier.Set(key, 1);
        await Wait.UntilAsync(() => coherence.IsCoherent, "the retried start to subscribe", TimeSpan.FromSeconds(5));
        await peer.Coherence.PublishInvalidationAsync([key]);
        await Wait.UntilAsync(() => !tier.TryGet<int>(key, out _), "the peer's invalidation", TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// redis-server killed and restarted: the L1 is cleared at the failure and again once the instance hears its
    /// own probe (what was copied in during the outage goes too), it is coherent again and evicts on a peer's message, and
    /// no task exception is left unobserved.
    /// </summary>
    [Fact]
    public async Task Coherence_RedisKilledAndRestarted_L1ClearedTwice_WorksAgain_NoUnobservedExceptions()
    {
        var unobserved = new ConcurrentQueue<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) =>
        {
            if (e.Exception.ToString().Contains("Coherence", StringComparison.Ordinal))
            {
                unobserved.Enqueue(e.Exception);
            }
        };
        TaskScheduler.UnobservedTaskException += onUnobserved;
        await using var server = await RedisServerFixture.StartRedisAsync(FreePort.Next());
        try
        {
            var ns = Namespace();
            var connection = $"127.0.0.1:{server.Port},abortConnect=false";
            var a = await Node(ns, "a", connection: connection);
            var b = await Node(ns, "b", connection: connection);
            await a.WaitSubscribedAsync();
            await b.WaitSubscribedAsync();
            b.Tier.Set($"{ns}:before", 1);

            server.Kill();
            await Wait.UntilAsync(() => b.Resyncs.Any(r => r.Reason == CoherenceResyncReason.SubscriberDisconnected), "disconnect resync");
            Assert.False(b.Coherence.IsCoherent);
            Assert.False(b.Tier.TryGet<int>($"{ns}:before", out _));
            b.Tier.Set($"{ns}:during", 2); // a read-through copy made while messages cannot arrive

            await server.StartAsync();
            await Wait.UntilAsync(() => b.Coherence.IsCoherent && b.Resyncs.Any(r => r.Reason == CoherenceResyncReason.SubscriberReconnected), "reconnect resync", TimeSpan.FromSeconds(30));
            Assert.False(b.Tier.TryGet<int>($"{ns}:during", out _));
            await Wait.UntilAsync(() => a.Coherence.IsCoherent, "a coherent again", TimeSpan.FromSeconds(30));

            var after = $"{ns}:after";
            b.Tier.Set(after, 3);
            await a.Coherence.PublishInvalidationAsync([after]);
            await Wait.UntilAsync(() => !b.Tier.TryGet<int>(after, out _), "eviction after the restart");
        }
        finally
        {
            await _owned.DisposeAsync();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }

        Assert.Empty(unobserved);
    }

    /// <summary>Keys of exactly MaxKeyBytes with multi-byte text, spaces, quotes and glob characters reach the peer intact; others stay.</summary>
    [Fact]
    public async Task Coherence_UnusualAndMaxLengthKeys_EvictExactlyThoseKeys()
    {
        var ns = Namespace();
        var a = await Node(ns, "a");
        var b = await Node(ns, "b");
        await a.WaitSubscribedAsync();
        await b.WaitSubscribedAsync();
        var longKey = new StringBuilder("ü😀");
        while (Encoding.UTF8.GetByteCount(longKey.ToString()) < 1024)
        {
            longKey.Append('x');
        }

        string[] keys = [longKey.ToString(), "spa ce \"quoted\" 'x'", "glob*?[ab]", "日本語:キー", "tab-free:\\back\\slash"];
        Assert.Equal(1024, Encoding.UTF8.GetByteCount(keys[0]));
        foreach (var key in keys)
        {
            b.Tier.Set(key, 1);
        }

        b.Tier.Set("globXa", 1);
        await a.Coherence.PublishInvalidationAsync(keys);
        await Wait.UntilAsync(() => keys.All(k => !b.Tier.TryGet<int>(k, out _)), "every key evicted");
        Assert.True(b.Tier.TryGet<int>("globXa", out _));
        Assert.Equal(keys, b.Invalidations.Single().Keys);
    }

    /// <summary>
    /// B's set has reached Redis and is on its way up to B's L1 when A overwrites the key and A's invalidation reaches
    /// B. B's L1 must not then take B's own, older value (it would serve "b" while Redis and A hold "a", until the L1
    /// TTL): the key's L1 write yields to the eviction, and B's next read finds "a" in Redis.
    /// </summary>
    [Fact]
    public async Task LocalSetOnItsWayToL1_WhenAPeersNewerWriteIsHeard_DoesNotLeaveItsOlderValueInL1()
    {
        var ns = Namespace();
        var prefix = $"{ns}:";
        var (a, aRedis, _) = await Instance(ns, "a", prefix);
        var (b, bRedis, bCoherence) = await Instance(ns, "b", prefix);
        const string key = "race";
        var heardByB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bCoherence.RemoteInvalidation += (_, e) =>
        {
            if (e.OriginInstanceId.StartsWith("a-", StringComparison.Ordinal) && e.Keys.Contains(key))
            {
                heardByB.TrySetResult();
            }
        };

        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bRedis.WriteHold = open;
        var bWrite = b.SetAsync(key, "b").AsTask();
        await bRedis.WriteHeld.Task.WaitAsync(Wait.Ceiling); // "b" is in Redis; B's L1 not yet written
        await a.SetAsync(key, "a");                            // A overwrites Redis and tells the peers
        await heardByB.Task.WaitAsync(Wait.Ceiling);           // B evicted the key (its L1 held nothing yet)
        open.SetResult();
        await bWrite;

        Assert.Equal("a", (await aRedis.GetAsync<string>(key)).Value);
        Assert.Equal("a", (await b.GetAsync<string>(key)).Value);
    }

    // ---------------------------------------------------------------- helpers

    private async Task<CoherenceTestNode> Node(string ns, string name, Action<CacheCoherenceOptions>? configure = null, string? connection = null)
    {
        var node = await CoherenceTestNode.StartAsync(connection ?? _redis.ConnectionString, ns, name, configure);
        _owned.Add(node);
        return node;
    }

    /// <summary>A multi-tier cache (L1 over Redis, the Redis tier wrapped to hold its sets) with coherence on the tier's connection.</summary>
    private async Task<(MultiTierCache Cache, FaultyTier Redis, CacheCoherence Coherence)> Instance(string ns, string name, string prefix)
    {
        var redis = await RedisCache.ConnectAsync(_redis.ConnectionString, new RedisCacheOptions { Name = "redis", KeyPrefix = prefix });
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000 });
        var coherence = new CacheCoherence(await redis.GetMultiplexerAsync(), l1, new CacheCoherenceOptions { Namespace = ns, InstanceId = $"{name}-{Guid.NewGuid():N}", HeartbeatInterval = TimeSpan.FromMinutes(10) });
        await coherence.StartAsync();
        await Wait.UntilAsync(() => coherence.MessagesReceived > 0 && coherence.IsCoherent, "own heartbeat echo");
        var held = new FaultyTier(redis);
        var options = new MultiTierCacheOptions { Name = name, Coherence = coherence };
        options.Tiers.Add(l1);
        options.Tiers.Add(held);
        var cache = new MultiTierCache(options);
        _owned.Add(coherence); // disposed after the cache (reverse order), which owns its tiers
        _owned.Add(cache);
        return (cache, held, coherence);
    }

    private static string Namespace([CallerMemberName] string test = "") => $"coherence-{test}-{Guid.NewGuid():N}";
}
