using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// The README's wiring (coherence on the Redis tier's own multiplexer, the cache owning its tiers) disposed in the order
/// <c>await using</c> gives it: the cache first (its Redis tier closes the multiplexer), the coherence after.
/// </summary>
public sealed class CacheCoherenceDisposeTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task DisposeAsync_AfterTheCacheClosedTheSharedMultiplexer_DoesNotThrow()
    {
        var (cache, coherence, l2) = await ReadmeWiringAsync(TimeProvider.System);
        await cache.DisposeAsync();
        Assert.False(l2.Multiplexer.IsConnected);

        await coherence.DisposeAsync();
        await coherence.DisposeAsync();
        Assert.False(coherence.IsCoherent);
    }

    [Fact]
    public async Task Heartbeat_AfterTheCacheClosedTheSharedMultiplexer_IsLoggedNotThrown_AndTheCoherenceGoesSilent()
    {
        // The heartbeat timer's callback ran into a disposed connection, which throws at once rather than through the
        // task: the exception escaped the timer and ended the process.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, coherence, _) = await ReadmeWiringAsync(time);
        await using var disposeCoherence = coherence;
        await cache.DisposeAsync();

        for (var beat = 0; beat < 5; beat++)
        {
            time.Advance(TimeSpan.FromSeconds(5)); // runs the heartbeat callback inline: it must not throw
        }

        Assert.False(coherence.IsCoherent); // no heartbeat of its own heard for three periods
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await coherence.PublishInvalidationAsync(["k"]));
    }

    /// <summary>Coherence on the Redis tier's own multiplexer, a cache owning both tiers, one value written.</summary>
    private async Task<(MultiTierCache Cache, CacheCoherence Coherence, RedisCache L2)> ReadmeWiringAsync(TimeProvider time)
    {
        var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = $"{nameof(CacheCoherenceDisposeTests)}:{Guid.NewGuid():N}:" });
        var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100 });
        var coherence = new CacheCoherence(l2.Multiplexer, l1, new CacheCoherenceOptions { Namespace = $"dispose-{Guid.NewGuid():N}", TimeProvider = time });
        await coherence.StartAsync();
        var options = new MultiTierCacheOptions { Coherence = coherence };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        var cache = new MultiTierCache(options);
        await cache.SetAsync("k", 1);
        return (cache, coherence, l2);
    }
}
