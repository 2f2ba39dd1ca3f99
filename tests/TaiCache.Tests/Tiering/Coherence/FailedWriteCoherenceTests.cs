using System.Diagnostics;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// A write-through that fails once Redis was called still tells the peers before it throws; with the server paused,
/// that invalidation is not answered either, and the wait for it must stay bounded. Each test pauses its own
/// redis-server (CLIENT PAUSE), so nothing else waits on it.
/// </summary>
public sealed class FailedWriteCoherenceTests : IAsyncLifetime
{
    private readonly OwnedDisposables _owned = new();
    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerFixture.StartRedisAsync(FreePort.Next());

    public async Task DisposeAsync()
    {
        await _owned.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SetAsync_TimingOutOnAPausedServer_ThrowsWithoutWaitingForTheInvalidationUntilTheServerAnswers(bool dedicatedCoherenceConnection)
    {
        // The set timed out (TierTimeout) and then waited for its invalidation (issued behind it on the tier's connection,
        // or published after the failure on the coherence's own), which the multiplexer gives 20 s: the caller's
        // exception came only when the server answered again.
        var cache = await CacheAsync(dedicatedCoherenceConnection);
        var key = $"fwc:{Guid.NewGuid():N}";
        await cache.SetAsync(key, "v1");
        // The UNPAUSE waits out the pause too (Redis 7.0 holds it with the rest): its connection waits longer.
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port},asyncTimeout=15000,syncTimeout=15000");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        // 300 ms + PublishTimeout (2 s), 2.0-2.3 s here; the bound leaves room for a loaded machine's late timers (a clean
        // CI run saw 5.05 s) and stays well under the pause, which the set waited out before.
        await server.ExecuteAsync("CLIENT", "PAUSE", "10000", "ALL");
        try
        {
            var sw = Stopwatch.StartNew();
            await Assert.ThrowsAsync<TierWriteException>(async () => await cache.SetAsync(key, "v2"));
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(7), $"the set threw after {sw.Elapsed.TotalMilliseconds:N0} ms");
        }
        finally
        {
            await server.ExecuteAsync("CLIENT", "UNPAUSE");
        }
    }

    private async Task<MultiTierCache> CacheAsync(bool dedicatedCoherenceConnection)
    {
        var redis = await RedisCache.ConnectAsync($"127.0.0.1:{_server.Port}", new RedisCacheOptions { Name = "redis", KeyPrefix = "fwc:", OperationTimeout = TimeSpan.FromSeconds(20) });
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000 });
        IConnectionMultiplexer multiplexer = dedicatedCoherenceConnection
            ? await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port},asyncTimeout=20000,syncTimeout=20000")
            : await redis.GetMultiplexerAsync();
        var coherence = new CacheCoherence(multiplexer, l1, new CacheCoherenceOptions { Namespace = "fwc", HeartbeatInterval = TimeSpan.FromMinutes(10) });
        await coherence.StartAsync();
        var options = new MultiTierCacheOptions { Name = "fwc", Coherence = coherence, TierTimeout = TimeSpan.FromMilliseconds(300) };
        options.Tiers.Add(l1);
        options.Tiers.Add(redis);
        var cache = new MultiTierCache(options);
        if (dedicatedCoherenceConnection)
        {
            _owned.Add((ConnectionMultiplexer)multiplexer);
        }

        _owned.Add(coherence);
        _owned.Add(cache);
        return cache;
    }
}
