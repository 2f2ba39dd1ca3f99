using StackExchange.Redis;
using TaiCache.Invalidation;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Redis;
using TaiCache.Tiering;

namespace TaiCache.Tests.Invalidation;

/// <summary>Pattern, tag and cascade invalidation over an L1 and a real Redis (keys found with SCAN).</summary>
public sealed class RedisPatternInvalidationTests : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _redis;
    private readonly string _prefix = RedisTestHelpers.UniquePrefix(nameof(RedisPatternInvalidationTests), "run");
    private readonly string _otherPrefix = RedisTestHelpers.UniquePrefix(nameof(RedisPatternInvalidationTests), "other");
    private RedisCache _cache = null!;
    private RedisCache _otherNamespace = null!;
    private InMemoryTier _l1 = null!;
    private InvalidationManager _manager = null!;

    public RedisPatternInvalidationTests(RedisServerFixture redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        _cache = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, _prefix);
        _otherNamespace = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, _otherPrefix);
        _l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1" });
        _manager = new InvalidationManager([_l1, _cache], new InvalidationManagerOptions { Redis = _cache.Multiplexer, RedisKeyPrefix = _prefix + "inv:" });
    }

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        await _cache.DeleteByPatternAsync("*");
        await _otherNamespace.DeleteByPatternAsync("*");
        await _cache.DisposeAsync();
        await _otherNamespace.DisposeAsync();
        await _l1.DisposeAsync();
    }

    [Fact]
    public void KeysAsync_BadArguments_ThrowOnTheCall_NotWhenEnumerationStarts()
    {
        Assert.Throws<ArgumentNullException>(() => _cache.KeysAsync(null!));
        Assert.Throws<ArgumentException>(() => _cache.KeysAsync(""));
        Assert.Throws<ArgumentException>(() => _cache.KeysAsync(new string('*', RedisCache.MaxPatternWildcards + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _cache.KeysAsync("*", pageSize: 0));
    }

    [Fact]
    public async Task InvalidatePatternAsync_NonAsciiKeys_AreMatchedOnRedisAsInL1()
    {
        // SCAN MATCH counts bytes: "user:?" never listed "user:é" (two UTF-8 bytes), though L1's matcher selects it.
        await _cache.SetAsync("user:é", 1);
        await _cache.SetAsync("user:a", 2);
        await _cache.SetAsync("user:ab", 3);
        await _cache.SetAsync("cafe:é1", 4);
        await _cache.SetAsync("café:é1", 5);

        Assert.Equal(["user:a", "user:é"], (await _manager.FindKeysAsync(CacheKeyPattern.Glob("user:?"))).Order(StringComparer.Ordinal));
        Assert.Equal(["café:é1"], await _manager.FindKeysAsync(CacheKeyPattern.Glob("café:é?")));

        await _manager.InvalidatePatternAsync(CacheKeyPattern.Glob("user:?"));
        Assert.False(await _cache.ExistsAsync("user:é"));
        Assert.True(await _cache.ExistsAsync("user:ab"));
    }

    [Fact]
    public async Task InvalidatePatternAsync_KeysWrittenDirectlyToRedis_AreFoundBySCANAndRemoved()
    {
        // Written by "another process": straight to Redis, never through this manager.
        await _cache.SetAsync("user:42:profile", "p");
        await _cache.SetAsync("user:42:orders", "o");
        await _cache.SetAsync("user:420:profile", "other user");
        await _manager.SetAsync("user:42:cart", "c");
        await _cache.SetAsync("report:42", "r");
        await _manager.AddDependencyAsync("report:42", "user:42:orders");

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("user:42:"));

        Assert.Equal(["report:42", "user:42:cart", "user:42:orders", "user:42:profile"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.False(await _cache.ExistsAsync("user:42:profile"));
        Assert.False(await _cache.ExistsAsync("report:42"));
        Assert.False(_l1.TryGet<string>("user:42:cart", out _));
        Assert.True(await _cache.ExistsAsync("user:420:profile"));
        Assert.Equal(2, receipt.Find("user:42:cart")!.TiersAffected);
        Assert.Equal(1, receipt.Find("user:42:profile")!.TiersAffected);
    }

    [Theory]
    [InlineData("a*")]
    [InlineData("x[")]
    public async Task InvalidatePatternAsync_UserInputGlobOnRedis_RemovesOnlyLiteralMatches_OtherNamespaceUntouched(string tenant)
    {
        await _cache.SetAsync($"tenant:{tenant}:k1", "v");
        await _cache.SetAsync($"tenant:{tenant}:k2", "v");
        await _cache.SetAsync("tenant:ab:k1", "v");
        await _cache.SetAsync("tenant:x1:k1", "v");
        await _otherNamespace.SetAsync($"tenant:{tenant}:k1", "v");

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.SafeGlob($"tenant:{tenant}:*"));

        Assert.Equal([$"tenant:{tenant}:k1", $"tenant:{tenant}:k2"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.True(await _cache.ExistsAsync("tenant:ab:k1"));
        Assert.True(await _cache.ExistsAsync("tenant:x1:k1"));
        Assert.True(await _otherNamespace.ExistsAsync($"tenant:{tenant}:k1"), "another namespace's key with the same name survives");
    }

    [Fact]
    public async Task InvalidatePatternAsync_RegexOnRedis_FiltersScannedKeys()
    {
        await _cache.SetAsync("order:1:lines", 1);
        await _cache.SetAsync("order:22:lines", 1);
        await _cache.SetAsync("order:x:lines", 1);

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.Regex(@"^order:\d+:lines$"));

        Assert.Equal(["order:1:lines", "order:22:lines"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.True(await _cache.ExistsAsync("order:x:lines"));
    }

    [Fact]
    public async Task InvalidatePatternAsync_CatastrophicRegexOnRedis_ThrowsAndRemovesNothing()
    {
        var evil = new string('a', 40) + "!";
        await _cache.SetAsync(evil, 1);
        await _cache.SetAsync("aaaa", 1);

        await Assert.ThrowsAsync<CachePatternTimeoutException>(async () =>
            await _manager.InvalidatePatternAsync(CacheKeyPattern.Regex("^(a+)+$", TimeSpan.FromMilliseconds(50))));

        Assert.True(await _cache.ExistsAsync(evil));
        Assert.True(await _cache.ExistsAsync("aaaa"));
    }

    [Fact]
    public async Task Strategies_OnRedis_EagerLazyTtlBehaveAsDocumented()
    {
        await _manager.SetAsync("s:eager", 1, TimeSpan.FromHours(1));
        await _manager.SetAsync("s:lazy", 1, TimeSpan.FromHours(1));
        await _manager.SetAsync("s:ttl", 1, TimeSpan.FromHours(1));

        await _manager.InvalidateAsync("s:eager", InvalidationStrategy.Eager);
        await _manager.InvalidateAsync("s:lazy", InvalidationStrategy.Lazy);
        var ttlReceipt = await _manager.InvalidateAsync("s:ttl", InvalidationStrategy.Ttl);

        Assert.False(await _cache.ExistsAsync("s:eager"));
        Assert.True(await _cache.ExistsAsync("s:lazy"));
        Assert.False((await _manager.GetAsync<int>("s:lazy")).HasValue);
        Assert.False(await _cache.ExistsAsync("s:lazy"));
        Assert.Equal(2, ttlReceipt.Find("s:ttl")!.TiersAffected);
        var remaining = await _cache.Multiplexer.GetDatabase().KeyTimeToLiveAsync(_prefix + "s:ttl");
        Assert.NotNull(remaining);
        Assert.True(remaining <= TimeSpan.FromSeconds(5), $"remaining {remaining}");
    }

    [Fact]
    public async Task InvalidateTagAsync_OnRedis_RemovesTaggedKeysAndDependents()
    {
        await _manager.SetAsync("tag:1", 1, tags: ["flash-sale"]);
        await _manager.SetAsync("tag:2", 2, tags: ["flash-sale"]);
        await _manager.SetAsync("tag:page", 3);
        await _manager.AddDependencyAsync("tag:page", "tag:2");

        var receipt = await _manager.InvalidateTagAsync("flash-sale");

        Assert.Equal(["tag:1", "tag:2", "tag:page"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.Equal(3, receipt.AffectedKeys.Count());
        Assert.False(await _cache.ExistsAsync("tag:page"));
    }

    [Fact]
    public async Task Namespace_OnRedisTier_OneIncrementHidesEveryOldEntry()
    {
        var ns = new CacheNamespace("user:7:", _cache.Multiplexer, new CacheNamespaceOptions { VersionKeyPrefix = _prefix + "nsv:" });
        var keys = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var key = await ns.GetKeyAsync($"item:{i}");
            keys.Add(key);
            await _cache.SetAsync(key, i, TimeSpan.FromMinutes(5));
        }

        await _manager.InvalidateNamespaceAsync(ns);

        foreach (var i in Enumerable.Range(0, 20))
        {
            Assert.False((await _cache.GetAsync<int>(await ns.GetKeyAsync($"item:{i}"))).HasValue);
        }

        Assert.True(await _cache.ExistsAsync(keys[0]), "old entries are left to expire, not deleted");
    }

    [Fact]
    public async Task MultiTierCacheAsTier_CascadeAndPattern_ReachL1AndRedisInside()
    {
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "mt-l1" });
        var options = new MultiTierCacheOptions { Name = "mt", OwnsTiers = false };
        options.Tiers.Add(l1);
        options.Tiers.Add(_cache);
        await using var multi = new MultiTierCache(options);
        await using var manager = new InvalidationManager([multi], new InvalidationManagerOptions { Redis = _cache.Multiplexer, RedisKeyPrefix = _prefix + "mt-inv:" });
        await manager.SetAsync("mt:root", 1);
        await manager.SetAsync("mt:dep", 2);
        await _cache.SetAsync("mt:pattern:only-in-redis", 3);
        await manager.AddDependencyAsync("mt:dep", "mt:root");

        var cascade = await manager.InvalidateAsync("mt:root");
        var pattern = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("mt:pattern:"));

        Assert.Equal(["mt:root", "mt:dep"], cascade.Keys.Select(k => k.Key));
        Assert.False(l1.TryGet<int>("mt:dep", out _));
        Assert.False(await _cache.ExistsAsync("mt:dep"));
        Assert.Equal(["mt:pattern:only-in-redis"], pattern.Keys.Select(k => k.Key));
        Assert.False(await _cache.ExistsAsync("mt:pattern:only-in-redis"));
        await l1.DisposeAsync();
    }
}
