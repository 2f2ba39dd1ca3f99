using TaiCache.Tiering;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaiCache.DependencyInjection;
using TaiCache.Sqlite;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>
/// What a new user meets on the documented path (appsettings.json bound by <c>AddTaiCache</c>): a setting the cache
/// cannot run with must fail at start, naming its configuration key; named caches must not share state.
/// </summary>
public sealed class UserPathEdgeCaseTests
{
    /// <summary>
    /// "Sqlite:SweepInterval": "60.00:00:00" fails ValidateOnStart, naming the key (it once passed, and the first
    /// resolution threw a bare ArgumentOutOfRangeException from the sweep timer, whose period is at most about 49.7 days).
    /// </summary>
    [Fact]
    public async Task SqliteSweepIntervalBeyondATimersRange_FailsAtStart_NamingTheKey()
    {
        var db = TestConfiguration.TempDatabase();
        var configuration = TestConfiguration.FromJson($$"""
            { "TaiCache": { "Caches": { "default": {
              "Sqlite": { "Path": "{{TestConfiguration.Json(db)}}", "SweepInterval": "60.00:00:00" }
            } } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();
        try
        {
            var error = Assert.Throws<OptionsValidationException>(() => TestConfiguration.ValidateOnStart(provider));
            Assert.Contains("TaiCache:Caches:default:Sqlite:SweepInterval", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            DeleteDatabase(db);
        }
    }

    /// <summary>
    /// "Memcached:OperationTimeout": "2.00:00:00" fails ValidateOnStart, naming the key, as MemcachedCacheOptions
    /// refuses any timeout over a day (it once passed, and the first resolution threw).
    /// </summary>
    [Fact]
    public async Task MemcachedOperationTimeoutOverADay_FailsAtStart_NamingTheKey()
    {
        var configuration = TestConfiguration.FromJson("""
            { "TaiCache": { "Caches": { "default": {
              "Memory": { "Enabled": false },
              "Memcached": { "Servers": [ "127.0.0.1:11211" ], "OperationTimeout": "2.00:00:00" }
            } } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains("TaiCache:Caches:default:Memcached:OperationTimeout", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// "Coherence:HeartbeatInterval": "60.00:00:00" fails ValidateOnStart, naming the key, as CacheCoherenceOptions
    /// refuses an interval over a timer's longest period (it once passed, and the first resolution threw).
    /// </summary>
    [Fact]
    public async Task CoherenceHeartbeatBeyondATimersRange_FailsAtStart_NamingTheKey()
    {
        var configuration = TestConfiguration.FromJson("""
            { "TaiCache": { "Caches": { "default": {
              "Redis": { "ConnectionString": "127.0.0.1:1,abortConnect=false,connectTimeout=200" },
              "Coherence": { "Enabled": true, "HeartbeatInterval": "60.00:00:00" }
            } } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains("TaiCache:Caches:default:Coherence:HeartbeatInterval", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The coherence's silence limit and publish timeout fail ValidateOnStart, naming their keys, where
    /// CacheCoherenceOptions would refuse them when the cache is first resolved.
    /// </summary>
    [Theory]
    [InlineData("\"MissedHeartbeatsBeforeResync\": 1", "MissedHeartbeatsBeforeResync")]
    [InlineData("\"HeartbeatInterval\": \"40.00:00:00\", \"MissedHeartbeatsBeforeResync\": 2147483647", "MissedHeartbeatsBeforeResync")]
    [InlineData("\"PublishTimeout\": \"00:00:00\"", "PublishTimeout")]
    [InlineData("\"PublishTimeout\": \"02:00:00\"", "PublishTimeout")]
    public async Task CoherenceSilenceLimitOrPublishTimeoutOutOfRange_FailsAtStart_NamingTheKey(string setting, string key)
    {
        var configuration = TestConfiguration.FromJson($$"""
            { "TaiCache": { "Caches": { "default": {
              "Redis": { "ConnectionString": "127.0.0.1:1,abortConnect=false,connectTimeout=200" },
              "Coherence": { "Enabled": true, {{setting}} }
            } } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains($"TaiCache:Caches:default:Coherence:{key}", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// "Coherence:Namespace": " " (or an empty value) fails ValidateOnStart, naming the key (it was not checked, and
    /// CacheCoherenceOptions refused it when the cache was first resolved).
    /// </summary>
    [Theory]
    [InlineData(" ")]
    [InlineData("")]
    public async Task CoherenceNamespaceBlank_FailsAtStart_NamingTheKey(string blank)
    {
        var configuration = TestConfiguration.FromJson($$"""
            { "TaiCache": { "Caches": { "default": {
              "Redis": { "ConnectionString": "127.0.0.1:1,abortConnect=false,connectTimeout=200" },
              "Coherence": { "Enabled": true, "Namespace": "{{blank}}" }
            } } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCache(configuration);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => TestConfiguration.ValidateOnStart(provider));
        Assert.Contains("TaiCache:Caches:default:Coherence:Namespace", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two named caches with "Sqlite": { "Enabled": true } and no Path each get a file of their own (both, and every
    /// other application on the machine doing the same, once opened &lt;local app data&gt;/TaiCache/sqlite.db, and read
    /// each other's keys).
    /// </summary>
    [Fact]
    public async Task TwoNamedCaches_SqliteAtTheDefaultLocation_DoNotShareAFile()
    {
        var configuration = TestConfiguration.FromJson("""
            { "TaiCache": { "Caches": {
              "alpha": { "Memory": { "Enabled": false }, "Sqlite": { "Enabled": true } },
              "beta":  { "Memory": { "Enabled": false }, "Sqlite": { "Enabled": true } }
            } } }
            """);
        var services = new ServiceCollection();
        services.AddTaiCachesFromConfiguration(configuration);
        var files = new List<string>();
        await using (var provider = services.BuildServiceProvider())
        {
            TestConfiguration.ValidateOnStart(provider);
            var caches = provider.GetRequiredService<ITaiCacheProvider>();
            var alpha = caches.GetCache("alpha");
            var beta = caches.GetCache("beta");
            files.Add(Assert.IsType<SqliteTier>(alpha.Tiers[0]).FilePath);
            files.Add(Assert.IsType<SqliteTier>(beta.Tiers[0]).FilePath);

            var key = $"shared-file:{Guid.NewGuid():N}";
            await alpha.SetAsync(key, "alpha's value");
            Assert.NotEqual(files[0], files[1]);
            Assert.False((await beta.GetAsync<string>(key)).HasValue);
        }

        foreach (var file in files)
        {
            Tests.Sqlite.SqliteTestFiles.Delete(file); // the files of the default location, not left behind
        }
    }

    /// <summary>
    /// HybridCacheEntryOptions with a LocalCacheExpiration longer than Expiration: Microsoft's DefaultHybridCache
    /// accepts it (and returns the factory's value), and so does TaiCache's adapter, capping it at Expiration (mapped
    /// 1:1 it failed validation, and code written against HybridCache failed on every call with such options).
    /// </summary>
    [Fact]
    public async Task HybridAdapter_LocalExpirationLongerThanExpiration_WorksAsInHybridCache()
    {
        var services = new ServiceCollection();
        services.AddTaiCache(o => o.Memory.MaximumSize = 100).AddHybridCacheAdapter();
        await using var provider = services.BuildServiceProvider();
        TestConfiguration.ValidateOnStart(provider);
        var hybrid = provider.GetRequiredService<HybridCache>();
        var options = new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(1), LocalCacheExpiration = TimeSpan.FromMinutes(5) };
        var key = $"audit:local-longer:{Guid.NewGuid():N}";

        Assert.Equal(7, await hybrid.GetOrCreateAsync(key, static _ => ValueTask.FromResult(7), options));
        await hybrid.SetAsync(key, 8, options);
        Assert.Equal(8, await hybrid.GetOrCreateAsync(key, static _ => ValueTask.FromResult(9), options));
    }

    private static void DeleteDatabase(string file)
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
