using System.Collections.Concurrent;
using StackExchange.Redis;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>One test instance: its own multiplexer (with an identifiable client name), local tier and coherence.</summary>
internal sealed class CoherenceTestNode : IAsyncDisposable
{
    private CoherenceTestNode(ConnectionMultiplexer multiplexer, InMemoryTier tier, CacheCoherence coherence, string clientName)
    {
        Multiplexer = multiplexer;
        Tier = tier;
        Coherence = coherence;
        ClientName = clientName;
        coherence.RemoteInvalidation += (_, e) =>
        {
            foreach (var key in e.Keys)
            {
                EvictedKeys.Enqueue(key);
            }

            Invalidations.Enqueue(e);
        };
        coherence.Resynchronized += (_, e) => Resyncs.Enqueue(e);
    }

    public ConnectionMultiplexer Multiplexer { get; }

    public InMemoryTier Tier { get; }

    public CacheCoherence Coherence { get; }

    public string ClientName { get; }

    public ConcurrentQueue<string> EvictedKeys { get; } = new();

    public ConcurrentQueue<CoherenceInvalidationEventArgs> Invalidations { get; } = new();

    public ConcurrentQueue<CoherenceResyncEventArgs> Resyncs { get; } = new();

    /// <summary>
    /// The resyncs a message caused (a sequence gap, an unreadable message): tests about messages count these, because a
    /// loaded machine can add a connection resync (disconnected, reconnected, silent) at any time.
    /// </summary>
    public IReadOnlyList<CoherenceResyncEventArgs> MessageResyncs =>
        [.. Resyncs.Where(r => r.Reason is CoherenceResyncReason.SequenceGap or CoherenceResyncReason.UnreadableMessage)];

    public static async Task<CoherenceTestNode> StartAsync(string connectionString, string ns, string name, Action<CacheCoherenceOptions>? configure = null)
    {
        var clientName = $"taicache-coherence-test-{name}-{Guid.NewGuid():N}"[..48];
        var config = ConfigurationOptions.Parse(connectionString);
        config.ClientName = clientName;
        config.AbortOnConnectFail = false;
        config.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
        config.ReconnectRetryPolicy = new LinearRetry(100);
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(config);

        // With AbortOnConnectFail off, the subscription connection may still be connecting (or retrying a first connect that
        // failed on a loaded machine); its "restored" event would then reach the coherence as a reconnect.
        await Wait.UntilAsync(() => multiplexer.GetSubscriber().IsConnected(), "subscription connection");
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100_000 });
        var options = new CacheCoherenceOptions { Namespace = ns, InstanceId = $"{name}-{Guid.NewGuid():N}" };
        configure?.Invoke(options);
        var coherence = new CacheCoherence(multiplexer, tier, options);
        await coherence.StartAsync();
        return new CoherenceTestNode(multiplexer, tier, coherence, clientName);
    }

    /// <summary>Waits until the instance has heard its own start-up heartbeat (its subscription is live).</summary>
    public Task WaitSubscribedAsync() => Wait.UntilAsync(() => Coherence.MessagesReceived > 0 && Coherence.IsCoherent, "own heartbeat echo");

    public async ValueTask DisposeAsync()
    {
        await Coherence.DisposeAsync();
        await Tier.DisposeAsync();
        await Multiplexer.DisposeAsync();
    }
}
