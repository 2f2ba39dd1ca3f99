using TaiCache.Tiering;
using TaiCache.Sqlite;
using TaiCache.Tiering.Warming;

namespace TaiCache.Tests.Sqlite;

/// <summary>The embedded default, L1 memory + L3 SQLite in a <see cref="MultiTierCache"/>, across a restart.</summary>
public sealed class SqliteEmbeddedCacheTests : IDisposable
{
    private readonly string _path = SqliteTestFiles.NewPath(nameof(SqliteEmbeddedCacheTests));

    public void Dispose() => SqliteTestFiles.Delete(_path);

    [Fact]
    public async Task MemoryPlusSqlite_Restart_ValueServedFromL3AndCopiedToNewL1()
    {
        var key = $"{nameof(SqliteEmbeddedCacheTests)}:{Guid.NewGuid():N}";
        await using (var first = Build(out _))
        {
            await first.SetAsync(key, new Contract.OrderLine("SKU-7", 1, 2m));
        }

        await using var second = Build(out var l1);
        Assert.False(l1.TryGet<Contract.OrderLine>(key, out _)); // a new process starts with an empty L1
        Assert.Equal(new Contract.OrderLine("SKU-7", 1, 2m), (await second.GetAsync<Contract.OrderLine>(key)).Value);
        Assert.True(l1.TryGet<Contract.OrderLine>(key, out _), "the L3 hit is copied up to L1");
    }

    [Fact]
    public async Task CacheWarmer_IntoMemoryPlusSqlite_FillsBothTiers()
    {
        await using var cache = Build(out var l1);
        var keys = Enumerable.Range(0, 40).Select(i => $"{nameof(SqliteEmbeddedCacheTests)}:{Guid.NewGuid():N}:{i}").ToList();
        var summary = await new CacheWarmer(cache, new CacheWarmerOptions { MaxConcurrency = 4 }).WarmAsync(keys, (k, _) => ValueTask.FromResult(k.Length));
        Assert.Equal(40, summary.Loaded);
        var l3 = (SqliteTier)cache.Tiers[1];
        Assert.Equal(40, await l3.CountAsync());
        Assert.All(keys, k => Assert.True(l1.TryGet<int>(k, out _)));
    }

    private MultiTierCache Build(out InMemoryTier l1)
    {
        l1 = new InMemoryTier();
        var options = new MultiTierCacheOptions { Name = "embedded" };
        options.Tiers.Add(l1);
        options.Tiers.Add(new SqliteTier(new SqliteTierOptions { FilePath = _path, SweepInterval = null }));
        return new MultiTierCache(options);
    }
}
