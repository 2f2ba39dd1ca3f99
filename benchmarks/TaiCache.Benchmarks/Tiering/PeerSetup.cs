using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tiering;
using ZiggyCreatures.Caching.Fusion;
using ZiggyCreatures.Caching.Fusion.Serialization.SystemTextJson;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>Builds TaiCache, FusionCache and HybridCache alike: memory L1 over the same Redis as L2, 5-minute entries.</summary>
internal static class PeerSetup
{
    public static readonly TimeSpan Duration = TimeSpan.FromMinutes(5);

    public static async Task<(MultiTierCache Cache, InMemoryTier L1, global::TaiCache.Redis.RedisCache L2)> TaiCacheAsync(string endpoint, string prefix, WriteStrategy write = WriteStrategy.WriteThrough, TaiCache.Redis.RedisIoScheduling scheduling = TaiCache.Redis.RedisIoScheduling.Dedicated)
    {
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 100_000 });
        var l2 = await global::TaiCache.Redis.RedisCache.ConnectAsync(endpoint, new TaiCache.Redis.RedisCacheOptions { KeyPrefix = prefix, IoScheduling = scheduling });
        var options = new MultiTierCacheOptions { WriteStrategy = write, DefaultEntryOptions = new MultiTierEntryOptions { Ttl = Duration } };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l1, l2);
    }

    public static FusionCache Fusion(string endpoint, string prefix)
    {
        var fusion = new FusionCache(new FusionCacheOptions
        {
            CacheKeyPrefix = prefix,
            DefaultEntryOptions = new FusionCacheEntryOptions { Duration = Duration },
        });
        fusion.SetupDistributedCache(
            new Microsoft.Extensions.Caching.StackExchangeRedis.RedisCache(new Microsoft.Extensions.Caching.StackExchangeRedis.RedisCacheOptions { Configuration = endpoint }),
            new FusionCacheSystemTextJsonSerializer());
        return fusion;
    }

    public static (HybridCache Cache, ServiceProvider Services) Hybrid(string endpoint, string prefix)
    {
        var services = new ServiceCollection();
        services.AddStackExchangeRedisCache(o =>
        {
            o.Configuration = endpoint;
            o.InstanceName = prefix;
        });
        services.AddHybridCache(o => o.DefaultEntryOptions = new HybridCacheEntryOptions { Expiration = Duration, LocalCacheExpiration = Duration });
        var provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<HybridCache>(), provider);
    }

    public static Task<ConnectionMultiplexer> RawAsync(string endpoint) => ConnectionMultiplexer.ConnectAsync(endpoint);
}
