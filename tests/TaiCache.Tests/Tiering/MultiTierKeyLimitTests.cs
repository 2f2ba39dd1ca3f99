using TaiCache.Sqlite;
using TaiCache.Tests.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>The cache's key limit follows its tiers' <c>MaxKeyBytes</c>, and a key over it reaches no tier.</summary>
public sealed class MultiTierKeyLimitTests : IDisposable
{
    private readonly string _path = SqliteTestFiles.NewPath(nameof(MultiTierKeyLimitTests));

    public void Dispose() => SqliteTestFiles.Delete(_path);

    private string LongKey(int bytes, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        var key = TierTestKit.Key(this, name) + ":";
        return key + new string('k', bytes - key.Length);
    }

    [Fact]
    public async Task SetAsync_TierAllowsLongerKeysThan1024_TheCacheTakesThem()
    {
        var options = new MultiTierCacheOptions { DefaultEntryOptions = new MultiTierEntryOptions { AllowStaleOnFailure = true } };
        options.Tiers.Add(new SqliteTier(new SqliteTierOptions { FilePath = _path, MaxKeyBytes = 4096 }));
        await using var cache = new MultiTierCache(options);
        var key = LongKey(1100);

        await cache.SetAsync(key, "v");
        await cache.SetManyAsync([KeyValuePair.Create(key + "2", "w")]);

        Assert.Equal("v", (await cache.GetAsync<string>(key)).Value);
        Assert.Equal("w", (await cache.GetManyAsync<string>([key + "2"]))[key + "2"]);
        Assert.Equal("v", (await cache.Tiers[0].GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task SetAsync_KeyOverTheSmallestTierLimit_RefusedBeforeAnyTier_NamingTheLimit()
    {
        var l1 = TierTestKit.Memory("L1");
        var l3 = new SqliteTier(new SqliteTierOptions { FilePath = _path, MaxKeyBytes = 100 });
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        options.Tiers.Add(l3);
        await using var cache = new MultiTierCache(options);
        var key = LongKey(200);

        // L1 (1024) would take it, SQLite (100) would not: the cache refuses it before either is written.
        var e = await Assert.ThrowsAsync<InvalidCacheKeyException>(() => cache.SetAsync(key, "v").AsTask());
        Assert.Contains("the limit is 100", e.Message, StringComparison.Ordinal);
        Assert.Contains("SqliteTierOptions.MaxKeyBytes", e.Message, StringComparison.Ordinal);
        Assert.False(l1.TryGet<string>(key, out _));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(() => cache.GetOrSetAsync(key, _ => ValueTask.FromResult("v")).AsTask());
        await Assert.ThrowsAsync<InvalidCacheKeyException>(() => cache.DeleteManyAsync([key]).AsTask());
        Assert.Equal(100, cache.MaxKeyBytes);
    }

    [Fact]
    public async Task SetAsync_MemoryL1WithTheDefaultLimit_MessageNamesItsOption()
    {
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(new SqliteTier(new SqliteTierOptions { FilePath = _path, MaxKeyBytes = 4096 }));
        await using var cache = new MultiTierCache(options);

        var e = await Assert.ThrowsAsync<InvalidCacheKeyException>(() => cache.SetAsync(LongKey(1100), "v").AsTask());
        Assert.Contains("InMemoryTierOptions.MaxKeyBytes of tier 'L1'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetAsync_MemoryL1RaisedWithTheLowerTier_LongKeysWorkThroughEveryTier()
    {
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaxKeyBytes = 4096 });
        var l3 = new SqliteTier(new SqliteTierOptions { FilePath = _path, MaxKeyBytes = 2048 });
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        options.Tiers.Add(l3);
        await using var cache = new MultiTierCache(options);
        var key = LongKey(2000);

        await cache.SetAsync(key, "v");
        Assert.True(l1.TryGet<string>(key, out _));
        Assert.Equal("v", (await l3.GetAsync<string>(key)).Value);
        Assert.Equal(2048, cache.MaxKeyBytes);
    }

    [Fact]
    public void Constructor_MaxKeyBytesAboveATiersLimit_Refused()
    {
        var options = new MultiTierCacheOptions { MaxKeyBytes = 2048 };
        options.Tiers.Add(TierTestKit.Memory("L1"));

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MultiTierCache(options));
        Assert.Contains("InMemoryTierOptions.MaxKeyBytes", e.Message, StringComparison.Ordinal);
    }
}
