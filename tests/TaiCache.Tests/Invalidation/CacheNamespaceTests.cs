using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Invalidation;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Invalidation;

public sealed class CacheNamespaceTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _redis;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public CacheNamespaceTests(RedisServerFixture redis) => _redis = redis;

    [Fact]
    public async Task InvalidateAsync_InProcessStore_OldKeysAreNeverReadAgain()
    {
        await using var store = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        await using var data = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        var ns = new CacheNamespace("user:42:", store, new CacheNamespaceOptions { TimeProvider = _time });
        var other = new CacheNamespace("user:43:", store, new CacheNamespaceOptions { TimeProvider = _time });
        var k1 = await ns.GetKeyAsync("profile");
        var o1 = await other.GetKeyAsync("profile");
        data.Set(k1, "old");
        data.Set(o1, "other user");

        var version = await ns.InvalidateAsync();

        var k2 = await ns.GetKeyAsync("profile");
        Assert.Equal($"user:42:v{version}:profile", k2);
        Assert.False(data.TryGet<string>(k2, out _));
        Assert.Equal(o1, await other.GetKeyAsync("profile"));
        Assert.True(data.TryGet<string>(o1, out _));
    }

    [Fact]
    public async Task GetVersionAsync_CounterLost_RestartsPastEveryOldVersion()
    {
        await using var store = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        var ns = new CacheNamespace("lost:", store, new CacheNamespaceOptions { TimeProvider = _time });
        await ns.InvalidateAsync();
        await ns.InvalidateAsync();
        var before = await ns.GetVersionAsync();

        store.Clear(); // the version key was evicted
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(await ns.GetVersionAsync() > before);
    }

    [Fact]
    public async Task InvalidateAsync_RedisCounter_SeenByAnotherInstanceAtOnce()
    {
        await using var a = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        await using var b = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var prefix = $"{nameof(CacheNamespaceTests)}:{Guid.NewGuid():N}:";
        var onA = new CacheNamespace(prefix, a);
        var onB = new CacheNamespace(prefix, b);
        var before = await onB.GetKeyAsync("k");
        Assert.Equal(before, await onA.GetKeyAsync("k"));

        var bumps = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => onA.InvalidateAsync().AsTask()));

        Assert.Equal(20, bumps.Distinct().Count());
        var after = await onB.GetKeyAsync("k");
        Assert.NotEqual(before, after);
        Assert.Equal($"{prefix}v{bumps.Max()}:k", after);
    }

    [Fact]
    public async Task VersionCacheDuration_ReusesVersionUntilItPasses()
    {
        await using var store = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        var options = new CacheNamespaceOptions { TimeProvider = _time, VersionCacheDuration = TimeSpan.FromSeconds(1) };
        var writer = new CacheNamespace("cached:", store, new CacheNamespaceOptions { TimeProvider = _time });
        var reader = new CacheNamespace("cached:", store, options);
        var first = await reader.GetVersionAsync();

        await writer.InvalidateAsync();

        Assert.Equal(first, await reader.GetVersionAsync());
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(first + 1, await reader.GetVersionAsync());
    }

    [Fact]
    public void Constructor_BadPrefix_Throws()
    {
        Assert.Throws<InvalidCacheKeyException>(() => new CacheNamespace("bad\nprefix", new InMemoryTier()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CacheNamespace("p:", new InMemoryTier(), new CacheNamespaceOptions { VersionCacheDuration = TimeSpan.FromSeconds(-1) }));
    }
}
