using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Time.Testing;

namespace TaiCache.Tests.Adapters;

/// <summary>
/// What any <see cref="IDistributedCache"/> must do, written against the interface only: set/get/refresh/remove, sync
/// and async, and absolute, relative and sliding expiration on a fake clock.
/// </summary>
public abstract class DistributedCacheContractTests
{
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    protected abstract IDistributedCache Cache { get; }

    [Fact]
    public async Task GetAsync_Missing_ReturnsNull()
    {
        Assert.Null(await Cache.GetAsync(Key()));
        Assert.Null(Cache.Get(Key()));
    }

    [Fact]
    public async Task SetAsync_ThenGetAsync_ReturnsTheBytes()
    {
        var key = Key();
        await Cache.SetAsync(key, [1, 2, 3], new DistributedCacheEntryOptions());

        Assert.Equal([1, 2, 3], await Cache.GetAsync(key));
    }

    [Fact]
    public void Set_ThenGet_Synchronous_ReturnsTheBytes()
    {
        var key = Key();
        Cache.Set(key, [9], new DistributedCacheEntryOptions());

        Assert.Equal([9], Cache.Get(key));
    }

    [Fact]
    public async Task SetAsync_EmptyValue_IsAHitWithNoBytes()
    {
        var key = Key();
        await Cache.SetAsync(key, [], new DistributedCacheEntryOptions());

        var read = await Cache.GetAsync(key);
        Assert.NotNull(read);
        Assert.Empty(read);
    }

    [Fact]
    public async Task SetAsync_Overwrite_ReturnsTheNewBytes()
    {
        var key = Key();
        await Cache.SetStringAsync(key, "first");
        await Cache.SetStringAsync(key, "second");

        Assert.Equal("second", await Cache.GetStringAsync(key));
    }

    [Fact]
    public async Task GetAsync_ReturnedArrayChanged_CacheUnchanged()
    {
        var key = Key();
        var value = new byte[] { 1, 2 };
        await Cache.SetAsync(key, value, new DistributedCacheEntryOptions());
        value[0] = 99;
        var read = await Cache.GetAsync(key);
        read![1] = 99;

        Assert.Equal([1, 2], await Cache.GetAsync(key));
    }

    [Fact]
    public async Task RemoveAsync_Existing_ThenMiss()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions());
        await Cache.RemoveAsync(key);
        Assert.Null(await Cache.GetAsync(key));

        Cache.Set(key, [1], new DistributedCacheEntryOptions());
        Cache.Remove(key);
        Assert.Null(Cache.Get(key));
    }

    [Fact]
    public async Task RemoveAsync_Missing_DoesNotThrow()
    {
        await Cache.RemoveAsync(Key());
        Cache.Remove(Key());
        Assert.Null(await Cache.GetAsync(Key()));
    }

    [Fact]
    public async Task SetAsync_RelativeExpiration_ExpiresAfterIt()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(5) });

        Time.Advance(TimeSpan.FromMinutes(4));
        Assert.NotNull(await Cache.GetAsync(key));
        Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.Null(await Cache.GetAsync(key));
    }

    [Fact]
    public async Task SetAsync_LongestRelativeExpiration_IsKept()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.MaxValue });

        Time.Advance(TimeSpan.FromDays(1000));
        Assert.NotNull(await Cache.GetAsync(key));
    }

    [Fact]
    public async Task SetAsync_AbsoluteExpiration_ExpiresAtIt()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { AbsoluteExpiration = Time.GetUtcNow().AddMinutes(10) });

        Time.Advance(TimeSpan.FromMinutes(9));
        Assert.NotNull(await Cache.GetAsync(key));
        Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.Null(await Cache.GetAsync(key));
    }

    [Fact]
    public async Task SetAsync_AbsoluteExpirationInThePast_Throws()
    {
        var key = Key();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { AbsoluteExpiration = Time.GetUtcNow().AddSeconds(-1) }));
        Assert.Null(await Cache.GetAsync(key));
    }

    [Fact]
    public async Task GetAsync_SlidingExpiration_EachReadExtendsTheEntry()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) });

        for (var i = 0; i < 5; i++)
        {
            Time.Advance(TimeSpan.FromMinutes(6));
            Assert.NotNull(await Cache.GetAsync(key)); // 30 minutes in all, never 10 without a read
        }

        Time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        Assert.Null(await Cache.GetAsync(key));
    }

    [Theory]
    [InlineData(101 * 365)]
    [InlineData(-1)] // TimeSpan.MaxValue
    public async Task SetAsync_SlidingExpirationOverACentury_IsKept(int days)
    {
        // The header records at most 100 years: a longer window was written, then every read refused the entry.
        var key = Key();
        var sliding = days < 0 ? TimeSpan.MaxValue : TimeSpan.FromDays(days);
        await Cache.SetAsync(key, [7], new DistributedCacheEntryOptions { SlidingExpiration = sliding });

        Time.Advance(TimeSpan.FromDays(30));
        Assert.Equal([7], await Cache.GetAsync(key));
    }

    [Fact]
    public async Task RefreshAsync_SlidingExpiration_ExtendsWithoutReading()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) });

        Time.Advance(TimeSpan.FromMinutes(8));
        await Cache.RefreshAsync(key);
        Time.Advance(TimeSpan.FromMinutes(8));
        Cache.Refresh(key);
        Time.Advance(TimeSpan.FromMinutes(8));

        Assert.NotNull(await Cache.GetAsync(key));
    }

    [Fact]
    public async Task RefreshAsync_WithoutRefresh_SlidingEntryExpires()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) });

        Time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));

        Assert.Null(await Cache.GetAsync(key));
    }

    [Fact]
    public async Task GetAsync_SlidingWithAbsolute_NeverOutlivesTheAbsoluteExpiry()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], new DistributedCacheEntryOptions
        {
            SlidingExpiration = TimeSpan.FromMinutes(10),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(15),
        });

        Time.Advance(TimeSpan.FromMinutes(8));
        Assert.NotNull(await Cache.GetAsync(key));
        Time.Advance(TimeSpan.FromMinutes(6));
        Assert.NotNull(await Cache.GetAsync(key)); // 14 minutes: sliding kept it
        Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.Null(await Cache.GetAsync(key)); // 15 minutes: the absolute expiry wins
    }

    [Fact]
    public async Task RefreshAsync_Missing_DoesNotThrow()
    {
        var key = Key();
        await Cache.RefreshAsync(key);
        Assert.Null(await Cache.GetAsync(key));
    }

    private string Key([System.Runtime.CompilerServices.CallerMemberName] string test = "") => $"{GetType().Name}:{test}:{Guid.NewGuid():N}";
}
