using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Serialization;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>Batch reads through a real Redis L2 (the aligned MGET path), shared by the single-server and cluster test classes.</summary>
internal static class MultiTierBatchChecks
{
    /// <summary>
    /// 150 keys, duplicates included, two thirds of them stored in L2 (written by TaiCache), one stored by a raw client
    /// as bytes TaiCache did not write: the batch returns each stored value under its own key, copies exactly those into
    /// L1, leaves the rest missing, and reports the foreign value as unreadable rather than as some other key's value.
    /// </summary>
    public static async Task ReadThroughAlignsValuesWithKeysAsync(string connectionString, string test)
    {
        var prefix = $"{nameof(MultiTierBatchChecks)}:{test}:{Guid.NewGuid():N}:";
        await using var l2 = await RedisCache.ConnectAsync(connectionString, new RedisCacheOptions { KeyPrefix = prefix });
        var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000 });
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        await using var cache = new MultiTierCache(options);

        var keys = Enumerable.Range(0, 150).Select(i => $"item:{i}").ToArray();
        var stored = keys.Where((_, i) => i % 3 != 0).ToArray();
        await l2.SetManyAsync(stored.Select(k => KeyValuePair.Create(k, "value of " + k)));

        var asked = keys.Concat(keys.Take(20)).ToArray();
        var found = await cache.GetManyAsync<string>(asked);

        Assert.Equal(stored.Length, found.Count);
        Assert.All(stored, k => Assert.Equal("value of " + k, found[k]));
        Assert.All(keys.Except(stored), k => Assert.False(found.ContainsKey(k)));
        Assert.All(stored, k => Assert.True(l1.TryGet<string>(k, out var v) && v == "value of " + k));
        Assert.All(keys.Except(stored), k => Assert.False(l1.TryGet<string>(k, out _)));

        // Another client reads the same bytes under prefix + key, and a value it writes there is not mistaken for TaiCache's.
        var raw = l2.Multiplexer.GetDatabase();
        var bytes = (byte[]?)await raw.StringGetAsync(prefix + stored[0]);
        Assert.Equal("value of " + stored[0], CacheValueCodec.Default.Decode<string>(stored[0], bytes));
        await raw.StringSetAsync(prefix + keys[0], "written by another client");
        l1.Remove(keys[0]);
        var e = await Assert.ThrowsAsync<CacheSerializationException>(async () => await l2.GetManyAsync<string>([keys[0], stored[1]]));
        Assert.Equal(keys[0], e.Key);
    }
}
