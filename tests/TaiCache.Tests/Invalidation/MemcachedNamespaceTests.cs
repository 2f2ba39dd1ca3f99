using TaiCache.Invalidation;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Invalidation;

/// <summary>memcached cannot list keys: prefix invalidation there is a namespace version, proven on a real server.</summary>
public sealed class MemcachedNamespaceTests : IClassFixture<MemcachedServerFixture>
{
    private readonly MemcachedServerFixture _memcached;

    public MemcachedNamespaceTests(MemcachedServerFixture memcached) => _memcached = memcached;

    [Fact]
    public async Task InvalidateNamespaceAsync_OnMemcached_TwoInstancesSeeTheNewVersion_OldEntriesUnreachable()
    {
        await using var cacheA = new MemcachedCache(_memcached.Options());
        await using var cacheB = new MemcachedCache(_memcached.Options());
        var prefix = $"{nameof(MemcachedNamespaceTests)}:{Guid.NewGuid():N}:user:42:";
        var nsA = new CacheNamespace(prefix, cacheA);
        var nsB = new CacheNamespace(prefix, cacheB);
        var oldKeys = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var key = await nsA.GetKeyAsync($"item:{i}");
            oldKeys.Add(key);
            await cacheA.SetAsync(key, i, TimeSpan.FromMinutes(5));
        }

        Assert.Equal(oldKeys[3], await nsB.GetKeyAsync("item:3"));
        await using var manager = new InvalidationManager([cacheB]);

        var receipt = await manager.InvalidateNamespaceAsync(nsB);

        Assert.Equal(InvalidationTrigger.Namespace, receipt.Trigger);
        for (var i = 0; i < 10; i++)
        {
            var current = await nsA.GetKeyAsync($"item:{i}");
            Assert.NotEqual(oldKeys[i], current);
            Assert.False((await cacheA.GetAsync<int>(current)).HasValue);
        }

        Assert.True((await cacheA.GetAsync<int>(oldKeys[0])).HasValue, "old entries are left to expire");
    }

    [Fact]
    public async Task GetVersionAsync_VersionKeyEvictedOnMemcached_NeverComesBackToAnOldVersion()
    {
        await using var cache = new MemcachedCache(_memcached.Options());
        var prefix = $"{nameof(MemcachedNamespaceTests)}:{Guid.NewGuid():N}:";
        var ns = new CacheNamespace(prefix, cache);
        await ns.InvalidateAsync();
        var before = await ns.GetVersionAsync();

        Assert.True(await cache.DeleteAsync("taicache:nsv:" + prefix)); // what an LRU eviction would do
        await Task.Delay(5); // the restart value is the clock in ms: let it move past the old one

        Assert.True(await ns.GetVersionAsync() > before);
    }
}
