using TaiCache.Tiering;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TaiCache.DependencyInjection;
using TaiCache.Redis;
using TaiCache.Sqlite;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>Registering caches from JSON configuration and from code, resolving them, and validating at start.</summary>
public sealed class TaiCacheServiceCollectionTests : IDisposable
{
    private readonly List<string> _files = [];

    public void Dispose()
    {
        foreach (var file in _files)
        {
            foreach (var suffix in new[] { string.Empty, "-wal", "-shm" })
            {
                try
                {
                    File.Delete(file + suffix);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    [Fact]
    public async Task AddTaiCache_JsonMemoryAndSqlite_ResolvesWorkingTwoTierCache()
    {
        var db = Db();
        var configuration = TestConfiguration.FromJson($$"""
            {
              "TaiCache": {
                "Caches": {
                  "default": {
                    "Memory": { "MaximumSize": 500 },
                    "Sqlite": { "Path": "{{TestConfiguration.Json(db)}}" },
                    "WriteStrategy": "WriteThrough",
                    "DefaultTtl": "00:10:00"
                  }
                }
              }
            }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider(validateScopes: true);
        TestConfiguration.ValidateOnStart(provider);

        var cache = provider.GetRequiredService<MultiTierCache>();
        Assert.Same(cache, provider.GetRequiredKeyedService<MultiTierCache>("default"));
        Assert.Same(cache, provider.GetRequiredService<ICacheOps>());
        Assert.Same(cache, provider.GetRequiredService<ITaiCacheProvider>().GetCache("default"));
        Assert.Equal(2, cache.Tiers.Count);
        Assert.IsType<InMemoryTier>(cache.Tiers[0]);
        var sqlite = Assert.IsType<SqliteTier>(cache.Tiers[1]);

        var key = Key(nameof(AddTaiCache_JsonMemoryAndSqlite_ResolvesWorkingTwoTierCache));
        await cache.SetAsync(key, "value");
        Assert.Equal("value", (await sqlite.GetAsync<string>(key)).Value);
        Assert.True(File.Exists(db));
        Assert.Equal("value", (await cache.GetAsync<string>(key)).Value);
        Assert.Equal(2, provider.GetRequiredService<ITaiCacheProvider>().GetMetrics("default").Count);
    }

    [Fact]
    public async Task AddTaiCache_JsonEntryDefaults_EagerRefreshAndFailSafe_ReachTheCache()
    {
        var configuration = TestConfiguration.FromJson("""
            {
              "TaiCache": {
                "Caches": {
                  "default": {
                    "DefaultTtl": "00:10:00",
                    "EagerRefreshThreshold": 0.8,
                    "AllowStaleOnFailure": true,
                    "FailSafeMaxDuration": "02:00:00",
                    "FactoryTimeout": "00:00:30",
                    "FactoryHardTimeout": "00:01:00"
                  }
                }
              }
            }
            """);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider(validateScopes: true);
        TestConfiguration.ValidateOnStart(provider);
        var cache = provider.GetRequiredService<MultiTierCache>();
        var l1 = Assert.IsType<InMemoryTier>(cache.Tiers[0]);
        var key = Key(nameof(AddTaiCache_JsonEntryDefaults_EagerRefreshAndFailSafe_ReachTheCache));
        var calls = 0;
        ValueTask<int> Load(CancellationToken _) => ValueTask.FromResult(Interlocked.Increment(ref calls));

        Assert.Equal(1, await cache.GetOrSetAsync(key, Load));
        time.Advance(TimeSpan.FromMinutes(9)); // past 0.8 of the configured TTL: refreshed behind the read
        Assert.Equal(1, await cache.GetOrSetAsync(key, Load));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!(l1.TryGet<int>(key, out var refreshed) && refreshed == 2))
        {
            Assert.True(DateTime.UtcNow < deadline, "the configured eager refresh did not run");
            await Task.Delay(10);
        }

        // Fail-safe is on: after the TTL, a failing factory serves the last value.
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(2, await cache.GetOrSetAsync<int>(key, _ => throw new InvalidOperationException("the source is down")));
    }

    [Fact]
    public async Task AddTaiCachesFromConfiguration_TwoNamedCaches_ResolvedByKeyAndByProvider()
    {
        var configuration = TestConfiguration.FromJson($$"""
            {
              "TaiCache": {
                "Caches": {
                  "users":    { "Memory": { "MaximumSize": 100 } },
                  "sessions": { "Memory": { "MaximumSize": 200 }, "Sqlite": { "Path": "{{TestConfiguration.Json(Db())}}" }, "WriteStrategy": "WriteBehind" }
                }
              }
            }
            """);
        var services = new ServiceCollection();
        var builders = services.AddTaiCachesFromConfiguration(configuration);
        await using var provider = services.BuildServiceProvider();
        TestConfiguration.ValidateOnStart(provider);

        // Configuration lists sections in key order.
        Assert.Equal(["sessions", "users"], builders.Select(b => b.Name));
        var caches = provider.GetRequiredService<ITaiCacheProvider>();
        Assert.Equal(["sessions", "users"], caches.CacheNames);
        var users = provider.GetRequiredKeyedService<MultiTierCache>("users");
        var sessions = provider.GetRequiredKeyedService<ICacheOps>("sessions");
        Assert.NotSame(users, sessions);
        Assert.Same(sessions, caches.GetCache("sessions"));
        Assert.Single(users.Tiers);
        Assert.Equal(WriteStrategy.WriteBehind, caches.GetCache("sessions").WriteStrategy);
        Assert.Same(sessions, provider.GetRequiredService<MultiTierCache>()); // unkeyed: the first registered

        var key = Key(nameof(AddTaiCachesFromConfiguration_TwoNamedCaches_ResolvedByKeyAndByProvider));
        await users.SetAsync(key, 1);
        Assert.False((await sessions.GetAsync<int>(key)).HasValue);
        Assert.Equal(1, (await users.GetAsync<int>(key)).Value);
    }

    [Fact]
    public async Task GetCache_UnknownName_ThrowsNamingTheRegisteredCaches()
    {
        var services = new ServiceCollection();
        services.AddTaiCache("orders");
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<KeyNotFoundException>(() => provider.GetRequiredService<ITaiCacheProvider>().GetCache("order"));
        Assert.Contains("'order'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'orders'", ex.Message, StringComparison.Ordinal);

        // Names are found case-insensitively, as configuration keys are, and give the same instance.
        var caches = provider.GetRequiredService<ITaiCacheProvider>();
        Assert.Same(caches.GetCache("orders"), caches.GetCache("Orders"));
    }

    [Theory]
    [InlineData("""{ "Memory": { "MaximumSize": 0 } }""", "TaiCache:Caches:default:Memory:MaximumSize")]
    [InlineData("""{ "DefaultTtl": "-00:00:01" }""", "TaiCache:Caches:default:DefaultTtl")]
    [InlineData("""{ "Sqlite": { "Enabled": true, "SweepInterval": "00:00:00" } }""", "TaiCache:Caches:default:Sqlite:SweepInterval")]
    [InlineData("""{ "Memcached": { "Servers": [ "127.0.0.1:notaport" ] } }""", "TaiCache:Caches:default:Memcached:Servers:0")]
    [InlineData("""{ "Memcached": { "Servers": [ "10.0.0.1:11211", "10.0.0.2", "10.0.0.1:11211" ] } }""", "TaiCache:Caches:default:Memcached:Servers:2 names the same server as TaiCache:Caches:default:Memcached:Servers:0 (10.0.0.1:11211)")]
    [InlineData("""{ "Memcached": { "Servers": [ "cache-a", "CACHE-A:11211:2" ] } }""", "TaiCache:Caches:default:Memcached:Servers:1 names the same server as TaiCache:Caches:default:Memcached:Servers:0")]
    [InlineData("""{ "Coherence": { "Enabled": true } }""", "TaiCache:Caches:default:Coherence:Enabled")]
    [InlineData("""{ "Memory": { "Enabled": false } }""", "the cache has no tier")]
    [InlineData("""{ "Redis": { "ConnectionString": "localhost:6379", "KeyPrefix": "a\nb" } }""", "TaiCache:Caches:default:Redis:KeyPrefix must not contain control characters")]
    [InlineData("""{ "Memcached": { "Servers": [ "localhost" ], "KeyPrefix": "a b" } }""", "TaiCache:Caches:default:Memcached:KeyPrefix must not hold spaces")]
    [InlineData("""{ "Memory": { "MaxSize": 10 } }""", "TaiCache:Caches:default:Memory:MaxSize is not a TaiCache setting")]
    [InlineData("""{ "Memcached": { "Servers": "10.0.0.1:11211" } }""", "TaiCache:Caches:default:Memcached:Servers is a list")]
    [InlineData("""{ "Redis": { "Multiplexer": "x" } }""", "TaiCache:Caches:default:Redis:Multiplexer can only be set in code")]
    [InlineData("""{ "Memory": { "Configure": "x" } }""", "TaiCache:Caches:default:Memory:Configure can only be set in code")]
    [InlineData("""{ "DefaultTtl": "00:01:00", "LocalTtl": "01:00:00" }""", "TaiCache:Caches:default:LocalTtl (01:00:00) must not be longer than DefaultTtl")]
    [InlineData("""{ "Redis": { "ConnectionString": "localhost:6379", "IoScheduling": "7" } }""", "TaiCache:Caches:default:Redis:IoScheduling is not")]
    [InlineData("""{ "EagerRefreshThreshold": 1.5 }""", "TaiCache:Caches:default:EagerRefreshThreshold must be between 0 and 1")]
    [InlineData("""{ "FactoryTimeout": "00:00:00" }""", "TaiCache:Caches:default:FactoryTimeout must be positive")]
    [InlineData("""{ "FactoryTimeout": "00:00:05", "FactoryHardTimeout": "00:00:01" }""", "TaiCache:Caches:default:FactoryHardTimeout (00:00:01) must not be shorter than FactoryTimeout")]
    [InlineData("""{ "FailSafeMaxDuration": "-01:00:00" }""", "TaiCache:Caches:default:FailSafeMaxDuration must be positive")]
    public async Task ValidateOnStart_InvalidOption_FailsNamingTheOption(string cacheJson, string expected)
    {
        var configuration = TestConfiguration.FromJson($$"""{ "TaiCache": { "Caches": { "default": {{cacheJson}} } } }""");
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.ThrowsAny<Exception>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        var direct = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ITaiCacheProvider>().GetCache("default"));
        Assert.Contains(expected, direct.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis", "TaiCache:Caches:default:Redis:ConnectionString must be set (or Redis.Multiplexer given) when Redis.Configure is")]
    [InlineData("memcached", "TaiCache:Caches:default:Memcached:Servers must list a server when Memcached.Configure is set")]
    [InlineData("sqlite", "TaiCache:Caches:default:Sqlite:Enabled must be true (or Sqlite:Path set) when Sqlite.Configure is set")]
    [InlineData("memory", "TaiCache:Caches:default:Memory:Enabled is false while Memory.Configure is set")]
    public async Task ValidateOnStart_ConfigureHookOnATierThatIsNotBuilt_FailsNamingTheMissingSetting(string tier, string expected)
    {
        // The trap: a TLS ConfigurationOptions given through Redis.Configure, no connection string, and a cache without Redis.
        var configuration = TestConfiguration.FromJson("""{ "TaiCache": { "Caches": { "default": { "Sqlite": { "Enabled": true } } } } }""");
        var services = new ServiceCollection();
        services.AddTaiCache(configuration).Configure(o =>
        {
            switch (tier)
            {
                case "redis": o.Redis.Configure = r => r.Configuration = StackExchange.Redis.ConfigurationOptions.Parse("localhost:6380,ssl=true"); break;
                case "memcached": o.Memcached.Configure = m => m.OperationTimeout = TimeSpan.FromSeconds(1); break;
                case "sqlite": o.Sqlite.Enabled = false; o.Sqlite.Configure = q => q.SweepInterval = TimeSpan.FromMinutes(1); break;
                default: o.Memory.Enabled = false; o.Memory.Configure = m => m.MaximumSize = 10; break;
            }
        });
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ITaiCacheProvider>().GetCache("default"));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateOnStart_UnknownWriteStrategy_FailsNamingTheKey()
    {
        var configuration = TestConfiguration.FromJson("""{ "TaiCache": { "Caches": { "default": { "WriteStrategy": "WriteAround" } } } }""");
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.ThrowsAny<Exception>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains("TaiCache:Caches:default:WriteStrategy", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedisConnectionStringWithNoServer_IsRefusedWhenTheCacheIsBuilt_FromOptionsOrConnectAsync()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RedisCache(new RedisCacheOptions { ConnectionString = "abortConnect=false" }));
        Assert.Contains("name no server", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(async () => await RedisCache.ConnectAsync("abortConnect=false"));
    }

    [Theory]
    [InlineData("127.0.0.1:6379,password=hunter2,notanoption=1", "TaiCache:Caches:default:Redis:ConnectionString cannot be parsed")]
    [InlineData("abortConnect=false,password=hunter2", "TaiCache:Caches:default:Redis:ConnectionString names no server")]
    public async Task ValidateOnStart_BadRedisConnectionString_NamesTheKeyButNotTheSecret(string connectionString, string expected)
    {
        var services = new ServiceCollection();
        services.AddTaiCache(o => o.Redis.ConnectionString = connectionString);
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.ThrowsAny<Exception>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Builder_FluentSettingsAndTimeProviderFromContainer_AreApplied()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddTaiCache("fluent")
            .WithMemory(1_000)
            .WithSqlite(Db())
            .WithSerializer(TaiCacheSerializerKind.SystemTextJson)
            .WithReadStrategy(ReadStrategy.LazyLoad)
            .WithDefaultTtl(TimeSpan.FromMinutes(10), localTtl: TimeSpan.FromMinutes(1))
            .WithMetrics(false);
        await using var provider = services.BuildServiceProvider();
        TestConfiguration.ValidateOnStart(provider);

        var caches = provider.GetRequiredService<ITaiCacheProvider>();
        var cache = caches.GetCache("fluent");
        Assert.Equal(ReadStrategy.LazyLoad, cache.ReadStrategy);
        Assert.Empty(caches.GetMetrics("fluent"));

        var key = Key(nameof(Builder_FluentSettingsAndTimeProviderFromContainer_AreApplied));
        await cache.SetAsync(key, "v");
        time.Advance(TimeSpan.FromMinutes(2)); // past the L1 ttl, within the lower tiers' ttl
        Assert.False(((InMemoryTier)cache.Tiers[0]).TryGet<string>(key, out _));
        Assert.Equal("v", (await cache.Tiers[1].GetAsync<string>(key)).Value);
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task SynchronousProviderDispose_DoesNotThrow_DrainsWriteBehindAndDisposesTheCache()
    {
        var db = Db();
        var key = Key(nameof(SynchronousProviderDispose_DoesNotThrow_DrainsWriteBehindAndDisposesTheCache));
        var services = new ServiceCollection();
        services.AddTaiCache("sync").WithMemory(100).WithSqlite(db).WithWriteStrategy(WriteStrategy.WriteBehind);
        var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<MultiTierCache>();
        Assert.Same(cache, provider.GetRequiredKeyedService<ICacheOps>("sync"));
        await cache.SetAsync(key, "v");

        provider.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetAsync<string>(key));
        await using var disk = new SqliteTier(new SqliteTierOptions { FilePath = db });
        Assert.Equal("v", (await disk.GetAsync<string>(key)).Value);
    }

    [Fact]
    public void SynchronousProviderDispose_WithTheHybridCacheAdapterResolved_DoesNotThrow()
    {
        var services = new ServiceCollection();
        services.AddTaiCache().AddDistributedCacheAdapter().AddHybridCacheAdapter();
        var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<MultiTierCache>();
        _ = provider.GetRequiredService<HybridCache>();

        provider.Dispose(); // threw: the adapter was only IAsyncDisposable, and the container stopped disposing

        Assert.Throws<ObjectDisposedException>(() => cache.GetAsync<string>("k").AsTask().GetAwaiter().GetResult());
    }

    [Fact]
    public async Task Adapters_Registered_ResolveOverTheSameCache()
    {
        var services = new ServiceCollection();
        services.AddTaiCache().AddDistributedCacheAdapter().AddHybridCacheAdapter();
        await using var provider = services.BuildServiceProvider();

        var cache = provider.GetRequiredService<MultiTierCache>();
        var distributed = provider.GetRequiredService<IDistributedCache>();
        var hybrid = provider.GetRequiredService<HybridCache>();
        Assert.Same(distributed, provider.GetRequiredKeyedService<IDistributedCache>("default"));

        var key = Key(nameof(Adapters_Registered_ResolveOverTheSameCache));
        await distributed.SetAsync(key, [1, 2, 3], new DistributedCacheEntryOptions());
        Assert.Equal([1, 2, 3], await distributed.GetAsync(key));
        Assert.True(await cache.ExistsAsync(key));

        var created = await hybrid.GetOrCreateAsync(key + ":h", _ => ValueTask.FromResult(42), tags: ["t"]);
        Assert.Equal(42, created);
        Assert.Equal(42, (await cache.GetAsync<int>(key + ":h")).Value);
        await hybrid.RemoveByTagAsync("t");
        Assert.False(await cache.ExistsAsync(key + ":h"));
    }

    [Fact]
    public async Task AddDistributedCacheAdapter_ReplacesAnEarlierDistributedCache()
    {
        var services = new ServiceCollection();
        services.AddDistributedMemoryCache();
        services.AddTaiCache().AddDistributedCacheAdapter();
        await using var provider = services.BuildServiceProvider();

        Assert.IsType<TaiCache.Adapters.TaiCacheDistributedCache>(provider.GetRequiredService<IDistributedCache>());
        Assert.Single(provider.GetServices<IDistributedCache>());
    }

    [Fact]
    public async Task DisposeAsync_ServiceProvider_DisposesTheCaches()
    {
        var services = new ServiceCollection();
        services.AddTaiCache();
        var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<MultiTierCache>();
        await cache.SetAsync(Key(nameof(DisposeAsync_ServiceProvider_DisposesTheCaches)), 1);

        await provider.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.SetAsync("k", 1));
    }

    private string Db()
    {
        var path = TestConfiguration.TempDatabase();
        _files.Add(path);
        return path;
    }

    private static string Key(string test) => $"{nameof(TaiCacheServiceCollectionTests)}:{test}:{Guid.NewGuid():N}";
}
