using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using TaiCache.DependencyInjection;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering.Coherence;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>
/// A registered cache whose coherence cannot start while its Redis tier works (the cache's Redis user may not use
/// channels: SUBSCRIBE is refused, GET and SET are not): between the retries nothing hears the peers, so L1 must take no
/// copies of values read from Redis, as while a started coherence is not coherent. The class's own server (its ACL).
/// </summary>
public sealed class TaiCacheCoherenceRetryTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task CoherenceStartFailing_RedisReadsWork_L1TakesNoCopies_SoAPeersWriteIsRead()
    {
        var user = $"nochannels-{Guid.NewGuid():N}";
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("ACL", "SETUSER", user, "on", ">pw", "~*", "resetchannels", "+@all");
        var prefix = $"di-retry-{Guid.NewGuid():N}:";
        var collector = new FakeLogCollector();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector))));
        services.AddTaiCache("retry", options =>
        {
            options.Redis.ConnectionString = $"{redis.ConnectionString},user={user},password=pw";
            options.Redis.KeyPrefix = prefix;
        }).WithCoherence();
        await using var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<ITaiCacheProvider>().GetCache("retry");
        var l1 = Assert.IsType<InMemoryTier>(cache.Tiers[0]);
        await using var peer = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
        var key = $"k:{Guid.NewGuid():N}";
        await peer.SetAsync(key, "v1");

        await Wait.UntilAsync(() => collector.GetSnapshot().Any(r => r.Id.Id == 8000), "a failed coherence start (event 8000)");
        Assert.Equal("v1", (await cache.GetAsync<string>(key)).Value);
        Assert.False(l1.TryGet<string>(key, out _), "copied into L1 while nothing hears the peers");

        await peer.SetAsync(key, "v2"); // a peer's write, its invalidation unheard
        Assert.Equal("v2", (await cache.GetAsync<string>(key)).Value);
    }
}
