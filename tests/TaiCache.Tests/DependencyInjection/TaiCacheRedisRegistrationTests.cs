using TaiCache.Tiering;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TaiCache.DependencyInjection;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>Caches with a Redis tier registered from JSON configuration, against a real Redis server.</summary>
public sealed class TaiCacheRedisRegistrationTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _redis;

    public TaiCacheRedisRegistrationTests(RedisServerFixture redis) => _redis = redis;

    [Fact]
    public async Task AddTaiCache_JsonIoScheduling_ReachesTheRedisTierOptions()
    {
        var configuration = TestConfiguration.FromJson($$"""
            {
              "TaiCache": {
                "Caches": {
                  "default": {
                    "Redis": { "ConnectionString": "{{_redis.ConnectionString}}", "KeyPrefix": "{{nameof(AddTaiCache_JsonIoScheduling_ReachesTheRedisTierOptions)}}:", "IoScheduling": "ThreadPool" }
                  }
                }
              }
            }
            """);
        RedisIoScheduling? seen = null;
        var services = new ServiceCollection();
        services.AddTaiCache(configuration).Configure(o => o.Redis.Configure = redis => seen = redis.IoScheduling);
        await using var provider = services.BuildServiceProvider();

        var cache = provider.GetRequiredService<MultiTierCache>();
        await cache.SetAsync("k", 1);

        Assert.Equal(RedisIoScheduling.ThreadPool, seen);
        Assert.Equal(1, (await cache.GetAsync<int>("k")).Value);
    }

    [Fact]
    public async Task AddTaiCache_JsonReadTtlFromServer_ReachesTheRedisTierOptions()
    {
        var configuration = TestConfiguration.FromJson($$"""
            {
              "TaiCache": {
                "Caches": {
                  "default": {
                    "Redis": { "ConnectionString": "{{_redis.ConnectionString}}", "KeyPrefix": "{{nameof(AddTaiCache_JsonReadTtlFromServer_ReachesTheRedisTierOptions)}}:", "ReadTtlFromServer": true }
                  }
                }
              }
            }
            """);
        bool? seen = null;
        var services = new ServiceCollection();
        services.AddTaiCache(configuration).Configure(o => o.Redis.Configure = redis => seen = redis.ReadTtlFromServer);
        await using var provider = services.BuildServiceProvider();

        var cache = provider.GetRequiredService<MultiTierCache>();
        await cache.SetAsync("k", 1);

        Assert.True(seen);
        Assert.Equal(1, (await cache.GetAsync<int>("k")).Value);
    }

    [Fact]
    public async Task AddTaiCache_JsonMemoryAndRedis_WritesReachRedis()
    {
        var prefix = $"{nameof(TaiCacheRedisRegistrationTests)}:{Guid.NewGuid():N}:";
        var configuration = TestConfiguration.FromJson($$"""
            {
              "TaiCache": {
                "Caches": {
                  "default": {
                    "Memory": { "MaximumSize": 1000 },
                    "Redis": { "ConnectionString": "{{_redis.ConnectionString}}", "KeyPrefix": "{{prefix}}", "OperationTimeout": "00:00:10" },
                    "Serializer": "SystemTextJson"
                  }
                }
              }
            }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();
        TestConfiguration.ValidateOnStart(provider);

        var cache = provider.GetRequiredService<MultiTierCache>();
        var redis = Assert.IsType<RedisCache>(cache.Tiers[1]);
        await cache.SetAsync("user:1", new[] { "a", "b" }, TimeSpan.FromMinutes(5));

        Assert.Equal(["a", "b"], (await redis.GetAsync<string[]>("user:1")).Value);
        await using var direct = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var raw = (byte[]?)await direct.GetDatabase().StringGetAsync(prefix + "user:1");
        Assert.NotNull(raw);
        Assert.Contains((byte)'[', raw!); // System.Text.Json payload, not MessagePack
        var ttl = await direct.GetDatabase().KeyTimeToLiveAsync(prefix + "user:1");
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task AddHybridCacheAdapter_WithRedisTier_KeepsTagsInRedisForEveryInstance()
    {
        var prefix = $"{nameof(TaiCacheRedisRegistrationTests)}:{Guid.NewGuid():N}:";
        await using var shared = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        ServiceProvider Instance()
        {
            var services = new ServiceCollection();
            services.AddTaiCache().WithRedis(shared, prefix).AddHybridCacheAdapter();
            return services.BuildServiceProvider();
        }

        await using var a = Instance();
        await using var b = Instance();
        var hybridA = a.GetRequiredService<HybridCache>();
        var hybridB = b.GetRequiredService<HybridCache>();

        await hybridA.SetAsync("product:1", "one", tags: ["products"]);
        Assert.Equal("one", await hybridB.GetOrCreateAsync("product:1", _ => ValueTask.FromResult("reloaded")));

        await hybridB.RemoveByTagAsync("products"); // B never tagged the key: the tag lives in Redis
        Assert.False((await a.GetRequiredService<MultiTierCache>().Tiers[1].GetAsync<string>("product:1")).HasValue);
        Assert.False(await shared.GetDatabase().KeyExistsAsync(prefix + "product:1"));

        // An entry overwritten on the other instance without the tag keeps its value; a removed one leaves no memberships.
        await hybridA.SetAsync("product:2", "two", tags: ["products"]);
        await hybridB.SetAsync("product:2", "two-b", tags: ["featured"]);
        await hybridA.RemoveByTagAsync("products");
        Assert.True(await shared.GetDatabase().KeyExistsAsync(prefix + "product:2"));
        await hybridA.RemoveAsync("product:2");
        var memberships = 0L;
        foreach (var server in shared.GetServers())
        {
            await foreach (var tagKey in server.KeysAsync(pattern: prefix + "*tz:*"))
            {
                memberships += await shared.GetDatabase().SortedSetLengthAsync(tagKey);
            }
        }

        Assert.Equal(0, memberships);
    }

    [Fact]
    public async Task WithCoherence_RedisTier_StartsCoherence()
    {
        var services = new ServiceCollection();
        services.AddTaiCache("coherent")
            .WithRedis(_redis.ConnectionString, $"{nameof(TaiCacheRedisRegistrationTests)}:{Guid.NewGuid():N}:")
            .WithCoherence($"di-test-{Guid.NewGuid():N}");
        await using var provider = services.BuildServiceProvider();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var coherence = await StartedCoherenceAsync(provider, "coherent", timeout.Token);

        while (!coherence.IsCoherent)
        {
            await Task.Delay(50, timeout.Token);
        }

        Assert.True(coherence.IsCoherent);
    }

    [Fact]
    public async Task JsonCoherenceSettings_ReachTheCoherence()
    {
        var configuration = TestConfiguration.FromJson($$"""
            { "TaiCache": { "Caches": { "tuned": {
              "Redis": { "ConnectionString": "{{_redis.ConnectionString}}", "KeyPrefix": "{{nameof(JsonCoherenceSettings_ReachTheCoherence)}}:{{Guid.NewGuid():N}}:" },
              "Coherence": { "Enabled": true, "HeartbeatInterval": "00:00:07", "MissedHeartbeatsBeforeResync": 5, "PublishTimeout": "00:00:09" }
            } } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration, "tuned");
        await using var provider = services.BuildServiceProvider();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var coherence = await StartedCoherenceAsync(provider, "tuned", timeout.Token);

        Assert.Equal(TimeSpan.FromSeconds(7), coherence.Options.HeartbeatInterval);
        Assert.Equal(5, coherence.Options.MissedHeartbeatsBeforeResync);
        Assert.Equal(TimeSpan.FromSeconds(9), coherence.Options.PublishTimeout);
    }

    [Fact]
    public async Task WithCoherence_NoNamespace_ChannelCarriesTheKeyPrefix_SoAppsWithOtherPrefixesDoNotShareIt()
    {
        var run = Guid.NewGuid().ToString("N");
        var services = new ServiceCollection();
        services.AddTaiCache("shop").WithRedis(_redis.ConnectionString, $"app-a:{run}:").WithCoherence();
        services.AddTaiCache("other").WithRedis(_redis.ConnectionString, $"app-b:{run}:").WithCoherence();
        await using var provider = services.BuildServiceProvider();
        var caches = provider.GetRequiredService<ITaiCacheProvider>();
        _ = caches.GetCache("shop");
        _ = caches.GetCache("other");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var a = await caches.GetCoherenceAsync("shop", timeout.Token);
        var b = await caches.GetCoherenceAsync("other", timeout.Token);

        Assert.Equal($"taicache:coherence:app-a:{run}:shop", a!.ChannelName);
        Assert.Equal($"taicache:coherence:app-b:{run}:other", b!.ChannelName);
    }

    /// <summary>Validates the registrations, resolves the named cache and waits for its coherence to have started.</summary>
    private static async Task<TaiCache.Tiering.Coherence.CacheCoherence> StartedCoherenceAsync(ServiceProvider provider, string name, CancellationToken cancellationToken)
    {
        TestConfiguration.ValidateOnStart(provider);
        var caches = provider.GetRequiredService<ITaiCacheProvider>();
        _ = caches.GetCache(name);
        var coherence = await caches.GetCoherenceAsync(name, cancellationToken);
        Assert.NotNull(coherence);
        return coherence!;
    }
}
