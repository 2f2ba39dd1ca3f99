using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Memcached;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// A node's back-off doubles per failed retry, not per call that failed in the same outage: when a server dies under
/// load, every call in flight fails at about the same moment, and each of those used to double the back-off (so a
/// restart of a few milliseconds kept the node down for up to <c>MaxDeadNodeRetryInterval</c>).
/// </summary>
public sealed class MemcachedNodeBackoffTests
{
    private static (MemcachedNode Node, FakeTimeProvider Clock) NewNode()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new MemcachedCacheOptions
        {
            DeadNodeRetryInterval = TimeSpan.FromSeconds(1),
            MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30),
            TimeProvider = clock,
        };
        return (new MemcachedNode(MemcachedServer.Parse($"127.0.0.1:{Fixtures.FreePort.Next()}"), options, NullLogger.Instance), clock);
    }

    [Fact]
    public void ManyFailuresOfOneOutage_KeepTheFirstBackoff()
    {
        var (node, clock) = NewNode();
        using var _ = node;

        for (var i = 0; i < 6; i++)
        {
            node.ReportReplacementFailure("connection reset"); // six calls in flight when the server died
        }

        Assert.True(node.IsDown());
        clock.Advance(TimeSpan.FromMilliseconds(1_100));
        Assert.False(node.IsDown()); // retried after 1 s, not after 32 s (capped at 30 s)
    }

    [Fact]
    public void FailedRetryAfterTheBackoff_DoublesIt()
    {
        var (node, clock) = NewNode();
        using var _ = node;

        node.ReportReplacementFailure("connection refused");
        clock.Advance(TimeSpan.FromMilliseconds(1_100));
        Assert.False(node.IsDown());

        node.ReportReplacementFailure("connection refused"); // the retry failed: 2 s now
        node.ReportReplacementFailure("connection refused"); // a concurrent retry of the same moment
        clock.Advance(TimeSpan.FromMilliseconds(1_500));
        Assert.True(node.IsDown());
        clock.Advance(TimeSpan.FromMilliseconds(600));
        Assert.False(node.IsDown());
    }
}
