using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Memcached;
using TaiCache.Tests.Tiering;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// A down node is probed in the background, once per back-off, never by callers: every call in flight when a server
/// dies fails at about the same moment, and neither those failures nor the calls that follow may dial it or lengthen
/// the back-off; a restarted server is back within one probe interval, its probe connection pooled.
/// </summary>
public sealed class MemcachedNodeBackoffTests
{
    private static (MemcachedNode Node, FakeTimeProvider Clock) NewNode(int port)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new MemcachedCacheOptions
        {
            DeadNodeRetryInterval = TimeSpan.FromSeconds(1),
            MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(4),
            TimeProvider = clock,
        };
        return (new MemcachedNode(new MemcachedServer("127.0.0.1", port), options, NullLogger.Instance), clock);
    }

    /// <summary>Waits (real time, bounded) until the probe has begun its <paramref name="n"/>-th back-off wait.</summary>
    private static Task ProbeWaiting(MemcachedNode node, long n) => TierTestKit.Eventually(() => node.ProbeWaitCount >= n);

    [Fact]
    public async Task ManyFailuresOfOneOutage_OneProbePerBackoff_DoublingToTheMaximum()
    {
        var (node, clock) = NewNode(Fixtures.FreePort.Next()); // nothing listens: every probe is refused
        using var _ = node;

        for (var i = 0; i < 6; i++)
        {
            node.ReportReplacementFailure("connection reset"); // six calls in flight when the server died
        }

        Assert.True(node.IsDown());
        await ProbeWaiting(node, 1);
        Assert.Equal(0, node.ProbeCount);
        Assert.Equal(1, node.ProbeWaitCount); // one probe loop for the outage, not one per failed call

        // Probes at 1 s, then 2 s, 4 s, 4 s (capped) apart.
        long probes = 0;
        foreach (var gap in new[] { 1, 2, 4, 4 })
        {
            clock.Advance(TimeSpan.FromSeconds(gap) - TimeSpan.FromMilliseconds(10));
            Assert.Equal(probes, node.ProbeCount);
            clock.Advance(TimeSpan.FromMilliseconds(10));
            probes++;
            await ProbeWaiting(node, probes + 1);
            Assert.Equal(probes, node.ProbeCount);
            Assert.True(node.IsDown());
        }
    }

    [Fact]
    public async Task WhileDown_CallsFailFastWithoutDialling_AndTheProbeBringsTheNodeBack()
    {
        await using var server = new FakeMemcachedServer();
        var (node, clock) = NewNode(server.Port);
        using var _ = node;

        node.ReportReplacementFailure("connection refused");
        var calls = Enumerable.Range(0, 50).Select(_ => Task.Run(async () => await node.RentAsync("k", CancellationToken.None))).ToArray();
        foreach (var call in calls)
        {
            var ex = await Assert.ThrowsAsync<CacheConnectionException>(() => call);
            Assert.Contains("marked down", ex.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, server.Accepted); // no caller dialled the down node

        await ProbeWaiting(node, 1);
        clock.Advance(TimeSpan.FromSeconds(1));
        await TierTestKit.Eventually(() => !node.IsDown());
        Assert.Equal(1, node.ProbeCount);
        Assert.Equal(1, server.Accepted); // the probe's connection ...
        Assert.Equal(1, node.IdleConnections); // ... is pooled for the next call

        var connection = await node.RentAsync("k", CancellationToken.None);
        Assert.True(connection.FromPool);
        node.Return(connection);
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task AfterRecovery_ANewOutageStartsAgainFromTheFirstBackoff()
    {
        await using var server = new FakeMemcachedServer();
        var (node, clock) = NewNode(server.Port);
        using var _ = node;

        node.ReportReplacementFailure("first outage");
        await ProbeWaiting(node, 1);
        clock.Advance(TimeSpan.FromSeconds(1));
        await TierTestKit.Eventually(() => !node.IsDown());

        node.ReportReplacementFailure("second outage");
        Assert.True(node.IsDown());
        await ProbeWaiting(node, 2);
        clock.Advance(TimeSpan.FromSeconds(1));
        await TierTestKit.Eventually(() => !node.IsDown());
        Assert.Equal(2, node.ProbeCount);
    }

    [Fact]
    public async Task TimeoutsOfCallsInFlightWhenTheNodeWentDown_DoNotCountAfterItIsBack()
    {
        // FailureThreshold (3 here) timeouts in a row mark a node down. The calls still in flight then time out too, and
        // their count outlived the outage: after the probe brought the node back, a single timeout marked it down again.
        await using var server = new FakeMemcachedServer();
        var (node, clock) = NewNode(server.Port);
        using var _ = node;

        for (var i = 0; i < 4; i++)
        {
            node.ReportTimeout(); // three mark it down; the fourth is a call that was in flight
        }

        Assert.True(node.IsDown());
        await ProbeWaiting(node, 1);
        clock.Advance(TimeSpan.FromSeconds(1));
        await TierTestKit.Eventually(() => !node.IsDown());

        node.ReportTimeout();
        node.ReportTimeout();
        Assert.False(node.IsDown()); // two timeouts since it came back: under the threshold
        node.ReportTimeout();
        Assert.True(node.IsDown());
    }

    [Fact]
    public async Task RetryOnAFreshConnection_AfterTheNodeWasMarkedDown_FailsWithoutDiallingIt()
    {
        // A call whose pooled connection failed retries once on a fresh one. When another call's failure marked the
        // node down in between, the retry still dialled the down node (waiting out ConnectTimeout when it is cut off).
        await using var server = new FakeMemcachedServer();
        var (node, _) = NewNode(server.Port);
        using var __ = node;
        var connection = await node.RentAsync("k", CancellationToken.None);
        await TierTestKit.Eventually(() => Volatile.Read(ref server.Accepted) == 1); // the server counts it once its accept returns

        node.ReportReplacementFailure("another call's fresh connection failed");
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await node.ReconnectAsync(connection, "k", CancellationToken.None));
        Assert.Contains("marked down", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref server.Accepted));
        Assert.Equal(0, node.OpenConnections);
    }
}
