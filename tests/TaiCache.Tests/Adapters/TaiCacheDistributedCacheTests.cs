using TaiCache.Tiering;
using Microsoft.Extensions.Caching.Distributed;
using TaiCache.Adapters;
using TaiCache.Sqlite;

namespace TaiCache.Tests.Adapters;

/// <summary>The <see cref="IDistributedCache"/> contract over a single <see cref="InMemoryTier"/>.</summary>
public sealed class TaiCacheDistributedCacheOverMemoryTests : DistributedCacheContractTests, IAsyncLifetime
{
    private readonly InMemoryTier _tier;

    public TaiCacheDistributedCacheOverMemoryTests()
    {
        _tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000, TimeProvider = Time });
        Cache = new TaiCacheDistributedCache(_tier, Time);
    }

    protected override IDistributedCache Cache { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _tier.DisposeAsync();

    [Fact]
    public async Task BytesAnotherWriterStored_ThatLookLikeAnEntry_ReadAsAbsent_NotAnOverflow()
    {
        var key = $"foreign:{Guid.NewGuid():N}";
        await _tier.SetAsync(key, Enumerable.Repeat((byte)1, 20).ToArray());

        Assert.Null(await Cache.GetAsync(key));
        Assert.Null(Cache.Get(key));
        await Cache.RefreshAsync(key);
    }
}

/// <summary>The <see cref="IDistributedCache"/> contract over a <see cref="MultiTierCache"/> of memory and SQLite (expiry in both tiers).</summary>
public sealed class TaiCacheDistributedCacheOverMultiTierTests : DistributedCacheContractTests, IAsyncLifetime
{
    private readonly string _db = Path.Combine(Path.GetTempPath(), $"taicache-adapter-{Guid.NewGuid():N}.db");
    private readonly MultiTierCache _cache;

    public TaiCacheDistributedCacheOverMultiTierTests()
    {
        var options = new MultiTierCacheOptions { Name = "adapter", TimeProvider = Time };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000, TimeProvider = Time }));
        options.Tiers.Add(new SqliteTier(new SqliteTierOptions { FilePath = _db, TimeProvider = Time, SweepInterval = null }));
        _cache = new MultiTierCache(options);
        Cache = new TaiCacheDistributedCache(_cache, Time);
    }

    protected override IDistributedCache Cache { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _cache.DisposeAsync();
        foreach (var suffix in new[] { string.Empty, "-wal", "-shm" })
        {
            File.Delete(_db + suffix);
        }
    }

    [Fact]
    public async Task GetAsync_SlidingEntryEvictedFromL1_LowerTierStillSlides()
    {
        var key = $"{nameof(TaiCacheDistributedCacheOverMultiTierTests)}:{Guid.NewGuid():N}";
        await Cache.SetAsync(key, [7], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) });
        ((InMemoryTier)_cache.Tiers[0]).Remove(key);

        Time.Advance(TimeSpan.FromMinutes(8));
        Assert.Equal([7], await Cache.GetAsync(key)); // from SQLite, slid there too
        Time.Advance(TimeSpan.FromMinutes(8));

        Assert.True((await _cache.Tiers[1].GetAsync<byte[]>(key)).HasValue);
    }
}
