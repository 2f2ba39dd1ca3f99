using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>Entry options are checked before anything is written: a bad combination names the option, and nothing is stored.</summary>
public sealed class MultiTierEntryOptionsTests
{
    [Fact]
    public async Task SetAsync_LocalTtlLongerThanTtl_ThrowsNamingBoth_AndStoresNothing()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(1), LocalTtl = TimeSpan.FromSeconds(30) };

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await cache.SetAsync(key, "v", options));
        Assert.Equal("LocalTtl", error.ParamName);
        Assert.Contains("must not exceed Ttl", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await cache.GetOrSetAsync(key, _ => ValueTask.FromResult("v"), options));

        Assert.False(l1.TryGet<string>(key, out _));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public void Validate_LocalTtlUpToTtl_OrWithoutTtl_IsAccepted()
    {
        new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(30), LocalTtl = TimeSpan.FromSeconds(30) }.Validate();
        new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(30), LocalTtl = TimeSpan.FromSeconds(5) }.Validate();
        new MultiTierEntryOptions { LocalTtl = TimeSpan.FromSeconds(5) }.Validate();
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(5), LocalTtl = TimeSpan.FromSeconds(6) }.Validate());
    }
}
