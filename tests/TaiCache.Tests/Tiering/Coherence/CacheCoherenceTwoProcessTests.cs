using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering.Coherence;
using Xunit.Abstractions;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>Coherence between two processes sharing a real redis-server.</summary>
public sealed class CacheCoherenceTwoProcessTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _redis;
    private readonly ITestOutputHelper _output;

    public CacheCoherenceTwoProcessTests(RedisServerFixture redis, ITestOutputHelper output)
    {
        _redis = redis;
        _output = output;
    }

    [Fact]
    public async Task PublishInOneProcess_EvictsLocalEntryInOtherProcess_AndReportsDelay()
    {
        var ns = $"{nameof(CacheCoherenceTwoProcessTests)}:{Guid.NewGuid():N}";
        await using var peer = PeerProcess.Start("coherence", _redis.ConnectionString, ns, "peer-process");
        await peer.WaitForLineAsync(l => l == "READY", "READY");

        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var localTier = new InMemoryTier();
        await using var coherence = new CacheCoherence(multiplexer, localTier, new CacheCoherenceOptions { Namespace = ns });
        await coherence.StartAsync();

        const int Rounds = 30;
        var delays = new List<double>();
        for (var i = 0; i < Rounds; i++)
        {
            var key = $"{ns}:order:{i}";
            await peer.SendAsync($"set {key}");
            await peer.WaitForLineAsync(l => l == $"SET {key}", "SET");
            var sw = Stopwatch.StartNew();
            await coherence.PublishInvalidationAsync([key]);
            await peer.WaitForLineAsync(l => l == $"EVICTED {key}", $"EVICTED {key}");
            delays.Add(sw.Elapsed.TotalMilliseconds);
            await peer.SendAsync($"has {key}");
            Assert.Equal($"HAS {key} false", await peer.WaitForLineAsync(l => l.StartsWith("HAS ", StringComparison.Ordinal), "HAS"));
        }

        delays.Sort();
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"two-process propagation (publish in test process -> EVICTED line read from peer stdout), {Rounds} rounds: p50 {delays[Rounds / 2]:F2} ms, p90 {delays[(int)(Rounds * 0.9)]:F2} ms, max {delays[^1]:F2} ms"));
        Assert.Equal(Rounds, delays.Count);
    }
}
