using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// One value in L2 that TaiCache cannot read (another client's bytes) is a miss for that key only: the batch's other
/// hits in the same tier are still returned, as a single-key read would have returned them.
/// </summary>
public sealed class MultiTierForeignValueBatchTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private async Task<(MultiTierCache Cache, RedisCache L2, InMemoryTier L1, string Prefix)> NewCacheAsync(string test)
    {
        var prefix = $"{nameof(MultiTierForeignValueBatchTests)}:{test}:{Guid.NewGuid():N}:";
        var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
        var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000 });
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l2, l1, prefix);
    }

    [Fact]
    public async Task GetManyAsync_OneForeignValueInL2_OtherHitsStillReturned()
    {
        var (cache, l2, l1, prefix) = await NewCacheAsync(nameof(GetManyAsync_OneForeignValueInL2_OtherHitsStillReturned));
        await using var owned = cache;
        await l2.SetManyAsync([KeyValuePair.Create("a", "value a"), KeyValuePair.Create("b", "value b")]);
        await l2.Multiplexer.GetDatabase().StringSetAsync(prefix + "foreign", "written by another client");

        var found = await cache.GetManyAsync<string>(["a", "foreign", "b", "missing"]);

        Assert.Equal(2, found.Count);
        Assert.Equal("value a", found["a"]);
        Assert.Equal("value b", found["b"]);
        Assert.True(l1.TryGet<string>("a", out var copied) && copied == "value a");
        Assert.False(l1.TryGet<string>("foreign", out _));
    }

    [Fact]
    public async Task GetOrSetManyAsync_OneForeignValueInL2_FactoryAskedOnlyForUnreadableAndMissingKeys()
    {
        var (cache, l2, _, prefix) = await NewCacheAsync(nameof(GetOrSetManyAsync_OneForeignValueInL2_FactoryAskedOnlyForUnreadableAndMissingKeys));
        await using var __ = cache;
        await l2.SetAsync("a", "value a");
        await l2.Multiplexer.GetDatabase().StringSetAsync(prefix + "foreign", "written by another client");
        var asked = new List<string>();

        var found = await cache.GetOrSetManyAsync<string>(["a", "foreign", "missing"], (keys, ct) =>
        {
            asked.AddRange(keys);
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, k => "loaded " + k));
        });

        Assert.Equal(["foreign", "missing"], asked.Order());
        Assert.Equal("value a", found["a"]);
        Assert.Equal("loaded foreign", found["foreign"]);
        Assert.Equal("loaded missing", found["missing"]);
        Assert.Equal("loaded foreign", (await l2.GetAsync<string>("foreign")).Value); // the unreadable value was replaced
    }
}
