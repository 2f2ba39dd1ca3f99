using TaiCache.Invalidation;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Redis;

namespace TaiCache.Tests.Invalidation;

/// <summary>Pattern, tag and dependency invalidation on a real three-primary Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterInvalidationTests : IAsyncLifetime
{
    private readonly RedisClusterFixture _cluster;
    private readonly string _prefix = RedisTestHelpers.UniquePrefix(nameof(RedisClusterInvalidationTests), "run");
    private RedisCache _cache = null!;
    private InMemoryTier _l1 = null!;
    private InvalidationManager _manager = null!;

    public RedisClusterInvalidationTests(RedisClusterFixture cluster) => _cluster = cluster;

    public async Task InitializeAsync()
    {
        _cache = await RedisTestHelpers.ConnectAsync(_cluster.ConnectionString, _prefix);
        _l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1" });
        _manager = new InvalidationManager([_l1, _cache], new InvalidationManagerOptions { Redis = _cache.Multiplexer, RedisKeyPrefix = _prefix + "inv:" });
    }

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        await _cache.DeleteByPatternAsync("*");
        await _cache.DisposeAsync();
        await _l1.DisposeAsync();
    }

    [Fact]
    public async Task InvalidatePatternAsync_KeysOnEveryPrimary_AllRemoved()
    {
        var keys = Enumerable.Range(0, 60).Select(i => $"cl:user:9:{i}").ToList();
        await _cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1)));
        await _cache.SetAsync("cl:user:99:0", 1);
        var primaries = _cache.Multiplexer.GetServers().Where(s => !s.IsReplica).ToList();
        Assert.Equal(3, primaries.Count);
        var config = _cache.Multiplexer.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        Assert.Equal(3, keys.Select(k => config.GetBySlot(_cache.Multiplexer.HashSlot(_prefix + k))!.EndPoint!.ToString()).Distinct().Count());

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.SafeGlob($"cl:user:{9}:*"));

        Assert.Equal(60, receipt.Keys.Count);
        Assert.Empty(await _cache.GetManyAsync<int>(keys));
        Assert.True(await _cache.ExistsAsync("cl:user:99:0"));
    }

    [Fact]
    public async Task Cascade_GraphSetsSpreadOverSlots_ReachesEveryLevel()
    {
        await _manager.SetAsync("cl:a", 1, tags: ["cl-tag"]);
        await _manager.SetAsync("cl:b", 1);
        await _manager.SetAsync("cl:c", 1);
        await _manager.AddDependencyAsync("cl:b", "cl:a");
        await _manager.AddDependencyAsync("cl:c", "cl:b");
        await _manager.AddDependencyAsync("cl:a", "cl:c");

        var receipt = await _manager.InvalidateTagAsync("cl-tag");

        Assert.Equal(["cl:a", "cl:b", "cl:c"], receipt.Keys.Select(k => k.Key));
        Assert.Single(receipt.Cycles);
        Assert.False(await _cache.ExistsAsync("cl:c"));
    }

    [Fact]
    public async Task Namespace_OnCluster_OneIncrementHidesEntriesInEverySlot()
    {
        var ns = new CacheNamespace("cl:tenant:5:", _cache.Multiplexer, new CacheNamespaceOptions { VersionKeyPrefix = _prefix + "nsv:" });
        var items = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var key = await ns.GetKeyAsync($"item:{i}");
            items.Add(key);
            await _cache.SetAsync(key, i, TimeSpan.FromMinutes(5));
        }

        await _manager.InvalidateNamespaceAsync(ns);

        var current = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            current.Add(await ns.GetKeyAsync($"item:{i}"));
        }

        Assert.Empty(await _cache.GetManyAsync<int>(current));
        Assert.Equal(30, (await _cache.GetManyAsync<int>(items)).Count);
    }
}
