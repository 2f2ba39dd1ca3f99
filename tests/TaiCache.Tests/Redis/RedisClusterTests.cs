using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>Scans, batches and server-wide reads on a real three-primary Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterTests : IAsyncLifetime
{
    private readonly RedisClusterFixture _cluster;
    private RedisCache _cache = null!;
    private string _prefix = string.Empty;

    public RedisClusterTests(RedisClusterFixture cluster) => _cluster = cluster;

    public async Task InitializeAsync()
    {
        _prefix = RedisTestHelpers.UniquePrefix(nameof(RedisClusterTests), "run");
        _cache = await RedisTestHelpers.ConnectAsync(_cluster.ConnectionString, _prefix);
    }

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    [Fact]
    public async Task Connection_IsACluster_WithThreePrimaries()
    {
        var primaries = _cache.Multiplexer.GetServers().Where(s => !s.IsReplica).ToList();
        Assert.Equal(3, primaries.Count);
        Assert.All(primaries, s => Assert.Equal(ServerType.Cluster, s.ServerType));
    }

    [Fact]
    public async Task KeysAsync_KeysOnEveryPrimary_ListsAllOfThem()
    {
        var keys = Enumerable.Range(0, 60).Select(i => $"scan:{i}").ToList();
        await _cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1)));

        // The keys really are spread over the three primaries.
        var owners = keys.Select(k => OwnerOf(_prefix + k)).Distinct().Count();
        Assert.Equal(3, owners);

        var listed = await RedisTestHelpers.ToListAsync(_cache.KeysAsync("scan:*", pageSize: 10));
        Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), listed);
    }

    [Fact]
    public async Task GetManyAsync_HundredKeysInManySlots_ReturnsEveryFoundKey()
    {
        var items = Enumerable.Range(0, 100).Select(i => KeyValuePair.Create($"many:{i}", $"v{i}")).ToList();
        await _cache.SetManyAsync(items, TimeSpan.FromMinutes(5));
        var slots = items.Select(i => _cache.Multiplexer.HashSlot(_prefix + i.Key)).Distinct().Count();
        Assert.True(slots > 50, $"expected the keys in many slots, got {slots}");

        var found = await _cache.GetManyAsync<string>(items.Select(i => i.Key).Append("many:missing"));

        Assert.Equal(100, found.Count);
        Assert.All(items, i => Assert.Equal(i.Value, found[i.Key]));
        Assert.False(found.ContainsKey("many:missing"));
    }

    [Fact]
    public async Task ReadTtlFromServer_KeysInManySlots_PttlReachesEachKeysPrimary()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_cluster.ConnectionString, _prefix + "pttl:", o => o.ReadTtlFromServer = true);
        var keys = Enumerable.Range(0, 30).Select(i => $"k{i}").ToList();
        await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1)), TimeSpan.FromMinutes(10));
        var raw = cache.Multiplexer.GetDatabase();
        foreach (var k in keys)
        {
            Assert.True(await raw.KeyExpireAsync(cache.KeyPrefix + k, TimeSpan.FromSeconds(30)));
        }

        var bound = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(31);
        var batch = await ((IBatchReader)cache).ReadManyAsync<int>(keys, default);
        var single = await cache.GetAsync<int>(keys[^1]);

        Assert.Equal(3, keys.Select(k => OwnerOf(cache.KeyPrefix + k)).Distinct().Count());
        Assert.All(batch, hit => Assert.True(hit.HasValue && hit.ExpiresAt <= bound, $"{hit.ExpiresAt:O}"));
        Assert.True(single.ExpiresAt <= bound);
    }

    [Fact]
    public async Task DeleteManyAsync_KeysInManySlots_CountsRemoved()
    {
        var keys = Enumerable.Range(0, 40).Select(i => $"del:{i}").ToList();
        await _cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k)));

        var removed = await _cache.DeleteManyAsync(keys.Append("del:missing"));

        Assert.Equal(40, removed);
        Assert.Empty(await _cache.GetManyAsync<string>(keys));
    }

    [Fact]
    public async Task DeleteByPatternAsync_OnEveryPrimary_RemovesOnlyMatches()
    {
        await _cache.SetManyAsync(Enumerable.Range(0, 30).Select(i => KeyValuePair.Create($"pat:gone:{i}", i)));
        await _cache.SetManyAsync(Enumerable.Range(0, 5).Select(i => KeyValuePair.Create($"pat:kept:{i}", i)));

        var removed = await _cache.DeleteByPatternAsync("pat:gone:*");

        Assert.Equal(30, removed);
        Assert.Equal(5, (await RedisTestHelpers.ToListAsync(_cache.KeysAsync("pat:*"))).Count);
    }

    [Fact]
    public async Task InfoAndStatistics_CoverEveryPrimary()
    {
        await _cache.SetAsync("stats", 1);
        var info = await _cache.InfoAsync("server");
        Assert.Equal(3, info.Count);
        Assert.All(info, i => Assert.StartsWith("7.", i.Values["redis_version"], StringComparison.Ordinal));

        var stats = await _cache.GetStatisticsAsync();
        Assert.Equal(3, stats.Primaries);
        Assert.True(stats.Keys >= 1);
        Assert.True(stats.UsedMemoryBytes > 0);
    }

    [Fact]
    public async Task DataStructuresAndCounters_WorkOnACluster()
    {
        Assert.Equal(3, await _cache.ListRightPushManyAsync("list", new[] { 1, 2, 3 }));
        Assert.Equal([1, 2, 3], await _cache.ListRangeAsync<int>("list"));
        Assert.Equal(5, await _cache.IncrementAsync("counter", 5));
        Assert.True((await _cache.TtlAsync("counter")).HasValue);
    }

    private string OwnerOf(string physicalKey)
    {
        var slot = _cache.Multiplexer.HashSlot(physicalKey);
        var config = _cache.Multiplexer.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        return config.GetBySlot(slot)!.EndPoint!.ToString()!;
    }
}
