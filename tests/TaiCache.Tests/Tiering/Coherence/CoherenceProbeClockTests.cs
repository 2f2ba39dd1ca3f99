using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// After a reconnect the coherence probes until it hears itself. A probe can be lost (published before the multiplexer
/// has resubscribed, or refused): the next one must follow on the wall clock, not on the caller's
/// <see cref="CacheCoherenceOptions.TimeProvider"/>, which in a test stands still, so recovery stalled until the test
/// moved the clock (CI saw it: a restored subscription connection at start-up, its one probe lost, never coherent).
/// The instance's Redis user loses the right to publish (ACL) while its connections are killed, so its first probes
/// after the reconnect are refused for certain. The class's own server (its ACL).
/// </summary>
public sealed class CoherenceProbeClockTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task ProbesAfterAReconnect_FollowOnTheWallClock_SoACallersStillClockDoesNotStallRecovery()
    {
        var user = $"probe-{Guid.NewGuid():N}";
        await using var control = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var server = control.GetServer(control.GetEndPoints()[0]);
        await server.ExecuteAsync("ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all");
        var config = ConfigurationOptions.Parse($"{redis.ConnectionString},user={user},password=pw");
        config.AbortOnConnectFail = false;
        config.ReconnectRetryPolicy = new LinearRetry(100);
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(config);
        await Wait.UntilAsync(() => multiplexer.GetSubscriber().IsConnected(), "subscription connection");
        var logs = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow); // never advanced
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100 });
        await using var coherence = new CacheCoherence(multiplexer, l1, new CacheCoherenceOptions { Namespace = $"probe-clock-{Guid.NewGuid():N}", TimeProvider = time, LoggerFactory = loggerFactory });
        await coherence.StartAsync();
        await Wait.UntilAsync(() => coherence.MessagesReceived > 0 && coherence.IsCoherent, "own heartbeat echo");

        await server.ExecuteAsync("ACL", "SETUSER", user, "-publish");
        await server.ExecuteAsync("CLIENT", "KILL", "USER", user); // both connections: the multiplexer reconnects them
        await Wait.UntilAsync(() => !coherence.IsCoherent, "the reconnect noticed");
        await Wait.UntilAsync(() => logs.GetSnapshot().Any(r => r.Id.Id == 5106), "a probe refused");
        Assert.False(coherence.IsCoherent);

        await server.ExecuteAsync("ACL", "SETUSER", user, "+publish");
        await Wait.UntilAsync(() => coherence.IsCoherent, "coherent once a later probe is heard, the fake clock untouched", TimeSpan.FromSeconds(10));
    }
}
