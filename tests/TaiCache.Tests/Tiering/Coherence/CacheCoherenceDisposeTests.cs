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
        var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = $"{nameof(CacheCoherenceDisposeTests)}:{Guid.NewGuid():N}:" });
        var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100 });
        var coherence = new CacheCoherence(l2.Multiplexer, l1, new CacheCoherenceOptions { Namespace = $"dispose-{Guid.NewGuid():N}" });
        await coherence.StartAsync();
        var options = new MultiTierCacheOptions { Coherence = coherence };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        var cache = new MultiTierCache(options);
        await cache.SetAsync("k", 1);

        await cache.DisposeAsync();
        Assert.False(l2.Multiplexer.IsConnected);

        await coherence.DisposeAsync();
        await coherence.DisposeAsync();
        Assert.False(coherence.IsCoherent);
    }
}
