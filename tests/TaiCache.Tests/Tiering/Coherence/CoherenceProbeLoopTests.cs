using StackExchange.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// The probing after a reconnect (a probe every 100 ms until the instance hears one back), when a second reconnect
/// begins just as the first one's probe loop ends. Real subscription connections killed on a real redis-server.
/// </summary>
public sealed class CoherenceProbeLoopTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly OwnedDisposables _owned = new();
    private ConnectionMultiplexer _control = null!;

    public async Task InitializeAsync() => _control = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);

    public async Task DisposeAsync()
    {
        await _owned.DisposeAsync();
        await _control.DisposeAsync();
    }

    [Fact]
    public async Task Reconnect_BeginningAsTheProbeLoopEnds_IsStillProbedUntilCoherent()
    {
        // The loop had seen its echo and was leaving; the second reconnect's events found it still marked running and
        // started none; then it left. Nothing probed until the next periodic heartbeat (here an hour away).
        var node = await CoherenceTestNode.StartAsync(redis.ConnectionString + ",protocol=resp2", $"probe-{Guid.NewGuid():N}", "probe", o => o.HeartbeatInterval = TimeSpan.FromHours(1));
        _owned.Add(node);
        await node.WaitSubscribedAsync();
        var restored = 0;
        node.Multiplexer.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                Interlocked.Increment(ref restored);
            }
        };
        var loopsEnded = 0;
        var secondReconnectSeen = false;
        Exception? hookFailure = null;
        var hookDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        node.Coherence.ProbeLoopEnding = () =>
        {
            if (Interlocked.Increment(ref loopsEnded) != 1)
            {
                return;
            }

            // The first reconnect was heard back; while its loop is ending, the subscription connection fails and is
            // restored again (both events handled).
            try
            {
                var before = Volatile.Read(ref restored);
                KillSubscriptionConnection(node).GetAwaiter().GetResult();
                secondReconnectSeen = SpinWait.SpinUntil(() => Volatile.Read(ref restored) > before && !node.Coherence.IsCoherent, Wait.Ceiling);
            }
            catch (Exception e)
            {
                hookFailure = e;
            }
            finally
            {
                hookDone.TrySetResult();
            }
        };

        await KillSubscriptionConnection(node); // the first reconnect
        await hookDone.Task.WaitAsync(Wait.Ceiling * 2); // the first probe loop ended, a second reconnect begun meanwhile
        Assert.Null(hookFailure);
        Assert.True(secondReconnectSeen);
        await Wait.UntilAsync(() => node.Coherence.IsCoherent, "coherent after the second reconnect", TimeSpan.FromSeconds(10));
    }

    /// <summary>Kills the node's subscription connection, found by its client name.</summary>
    private async Task KillSubscriptionConnection(CoherenceTestNode node)
    {
        var server = _control.GetServer(_control.GetEndPoints()[0]);
        var list = (string)(await server.ExecuteAsync("CLIENT", "LIST", "TYPE", "pubsub").ConfigureAwait(false))!;
        var line = list.Split('\n').Single(l => l.Contains($"name={node.ClientName} ", StringComparison.Ordinal));
        var id = line.Split(' ').First(p => p.StartsWith("id=", StringComparison.Ordinal))[3..];
        Assert.Equal(1, (long)await server.ExecuteAsync("CLIENT", "KILL", "ID", id, "TYPE", "pubsub").ConfigureAwait(false));
    }
}
