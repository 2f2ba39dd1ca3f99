using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>A cache with a memcached tier registered from JSON configuration, against a real memcached.</summary>
public sealed class TaiCacheMemcachedRegistrationTests : IClassFixture<MemcachedServerFixture>
{
    private readonly MemcachedServerFixture _memcached;

    public TaiCacheMemcachedRegistrationTests(MemcachedServerFixture memcached) => _memcached = memcached;

    [Fact]
    public async Task AddTaiCache_JsonMemoryAndMemcached_WritesReachMemcached()
    {
        var prefix = $"di{Guid.NewGuid():N}"[..20] + ":";
        var configuration = TestConfiguration.FromJson($$"""
            {
              "TaiCache": {
                "Caches": {
                  "default": {
                    "Memory": { "MaximumSize": 1000 },
                    "Memcached": { "Servers": [ "{{_memcached.Server}}" ], "KeyPrefix": "{{prefix}}", "OperationTimeout": "00:00:10", "FailoverPolicy": "Redistribute" }
                  }
                }
              }
            }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration).AddDistributedCacheAdapter();
        await using var provider = services.BuildServiceProvider();
        TestConfiguration.ValidateOnStart(provider);

        var cache = provider.GetRequiredService<MultiTierCache>();
        var memcached = Assert.IsType<MemcachedCache>(cache.Tiers[1]);
        Assert.Equal([_memcached.Server.ToString()], memcached.Servers.Select(s => s.ToString()));

        var distributed = provider.GetRequiredService<IDistributedCache>();
        await distributed.SetStringAsync("session:1", "hello", new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(20) });
        ((InMemoryTier)cache.Tiers[0]).Clear();

        Assert.Equal("hello", await distributed.GetStringAsync("session:1")); // from memcached
        Assert.True((await memcached.GetAsync<byte[]>("session:1")).HasValue);
    }
}
