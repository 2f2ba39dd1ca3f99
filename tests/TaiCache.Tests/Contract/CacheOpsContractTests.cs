using System.Runtime.CompilerServices;

namespace TaiCache.Tests.Contract;

/// <summary>
/// The behaviour every <see cref="ICacheOps"/> shares. Each backend's test class inherits this and supplies the cache;
/// every fact below then runs against that backend.
/// </summary>
public abstract class CacheOpsContractTests
{
    /// <summary>Gets the cache under test.</summary>
    protected abstract ICacheOps Cache { get; }

    /// <summary>Gets a TTL short enough to wait for (the backend's smallest that expires reliably).</summary>
    protected virtual TimeSpan ShortTtl => TimeSpan.FromSeconds(1);

    /// <summary>Lets <paramref name="ttl"/> pass: a fake clock advances, a real server is waited for (bounded).</summary>
    protected virtual Task LetTimePassAsync(TimeSpan ttl) => Task.Delay(ttl + TimeSpan.FromMilliseconds(1100));

    /// <summary>A key unique to the calling test and this run.</summary>
    protected string Key([CallerMemberName] string test = "") => $"contract:{GetType().Name}:{test}:{Guid.NewGuid():N}";

    [Fact]
    public async Task GetAsync_MissingKey_ReturnsMiss()
    {
        var result = await Cache.GetAsync<string>(Key());
        Assert.False(result.HasValue);
    }

    [Fact]
    public async Task SetAsync_String_RoundTrips()
    {
        var key = Key();
        await Cache.SetAsync(key, "héllo wörld ✓");
        var result = await Cache.GetAsync<string>(key);
        Assert.True(result.HasValue);
        Assert.Equal("héllo wörld ✓", result.Value);
    }

    [Fact]
    public async Task SetAsync_ZeroInt_ReadsAsHitNotMiss()
    {
        var key = Key();
        await Cache.SetAsync(key, 0);
        var result = await Cache.GetAsync<int>(key);
        Assert.True(result.HasValue);
        Assert.Equal(0, result.Value);
    }

    [Fact]
    public async Task SetAsync_Null_ReadsAsHitWithNull()
    {
        var key = Key();
        await Cache.SetAsync<Customer?>(key, null);
        var result = await Cache.GetAsync<Customer?>(key);
        Assert.True(result.HasValue);
        Assert.Null(result.Value);
    }

    [Fact]
    public async Task SetAsync_PlainClass_RoundTrips()
    {
        var key = Key();
        var customer = new Customer { Id = 42, Name = "Ada", Tags = ["vip", "eu"], CreatedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero) };
        await Cache.SetAsync(key, customer);
        var back = (await Cache.GetAsync<Customer>(key)).Value;
        Assert.Equal(42, back.Id);
        Assert.Equal("Ada", back.Name);
        Assert.Equal(["vip", "eu"], back.Tags);
        Assert.Equal(customer.CreatedAt, back.CreatedAt);
    }

    [Fact]
    public async Task SetAsync_Record_RoundTrips()
    {
        var key = Key();
        await Cache.SetAsync(key, new OrderLine("SKU-1", 3, 9.99m));
        Assert.Equal(new OrderLine("SKU-1", 3, 9.99m), (await Cache.GetAsync<OrderLine>(key)).Value);
    }

    [Fact]
    public async Task SetAsync_ExistingKey_Overwrites()
    {
        var key = Key();
        await Cache.SetAsync(key, 1);
        await Cache.SetAsync(key, 2);
        Assert.Equal(2, (await Cache.GetAsync<int>(key)).Value);
    }

    [Fact]
    public async Task SetAsync_LargeValue_RoundTrips()
    {
        var key = Key();
        var big = string.Concat(Enumerable.Range(0, 20_000).Select(i => (char)('a' + (i % 26))));
        await Cache.SetAsync(key, big);
        Assert.Equal(big, (await Cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task DeleteAsync_ExistingKey_ReturnsTrueAndRemoves()
    {
        var key = Key();
        await Cache.SetAsync(key, "v");
        Assert.True(await Cache.DeleteAsync(key));
        Assert.False((await Cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task DeleteAsync_MissingKey_ReturnsFalse()
    {
        Assert.False(await Cache.DeleteAsync(Key()));
    }

    [Fact]
    public async Task ExistsAsync_TellsPresentFromMissing()
    {
        var key = Key();
        Assert.False(await Cache.ExistsAsync(key));
        await Cache.SetAsync(key, 5);
        Assert.True(await Cache.ExistsAsync(key));
    }

    [Fact]
    public async Task ExpireAsync_MissingKey_ReturnsFalse()
    {
        Assert.False(await Cache.ExpireAsync(Key(), TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task ExpireAsync_ExistingKey_ReturnsTrueAndExpiresLater()
    {
        var key = Key();
        await Cache.SetAsync(key, "v");
        Assert.True(await Cache.ExpireAsync(key, ShortTtl));
        Assert.True((await Cache.GetAsync<string>(key)).HasValue);
        await LetTimePassAsync(ShortTtl);
        Assert.False((await Cache.GetAsync<string>(key)).HasValue);
    }

    /// <summary>
    /// For a distributed or persistent tier, whose reads report the expiry the value's writer recorded (what a
    /// multi-tier cache caps its copies with): <c>ExpireAsync</c> must update that record, shortening or adding it.
    /// </summary>
    protected async Task AssertExpireUpdatesTheRecordedExpiryAsync()
    {
        var shortened = Key();
        var added = Key();
        await Cache.SetAsync(shortened, "v", TimeSpan.FromMinutes(10));
        await Cache.SetAsync(added, "v");
        var before = (await Cache.GetAsync<string>(shortened)).ExpiresAtUnixMs;

        Assert.True(await Cache.ExpireAsync(shortened, TimeSpan.FromMinutes(2)));
        Assert.True(await Cache.ExpireAsync(added, TimeSpan.FromMinutes(2)));

        var after = await Cache.GetAsync<string>(shortened);
        Assert.Equal("v", after.Value);
        var cut = TimeSpan.FromMilliseconds(before - after.ExpiresAtUnixMs);
        Assert.InRange(cut, TimeSpan.FromMinutes(7.5), TimeSpan.FromMinutes(8));
        var gained = await Cache.GetAsync<string>(added);
        Assert.Equal("v", gained.Value);
        Assert.InRange(TimeSpan.FromMilliseconds(gained.ExpiresAtUnixMs - after.ExpiresAtUnixMs), TimeSpan.Zero, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task SetAsync_WithTtl_ExpiresAfterIt()
    {
        var key = Key();
        var other = Key() + ":long";
        await Cache.SetAsync(key, "short", ShortTtl);
        await Cache.SetAsync(other, "long", TimeSpan.FromHours(1));
        Assert.True((await Cache.GetAsync<string>(key)).HasValue);
        await LetTimePassAsync(ShortTtl);
        Assert.False((await Cache.GetAsync<string>(key)).HasValue);
        Assert.False(await Cache.ExistsAsync(key));
        Assert.Equal("long", (await Cache.GetAsync<string>(other)).Value);
    }

    [Fact]
    public async Task GetManyAsync_ReturnsOnlyFoundKeys()
    {
        var a = Key() + ":a";
        var b = Key() + ":b";
        var missing = Key() + ":missing";
        await Cache.SetAsync(a, 1);
        await Cache.SetAsync(b, 0);
        var found = await Cache.GetManyAsync<int>([a, b, missing, a]);
        Assert.Equal(2, found.Count);
        Assert.Equal(1, found[a]);
        Assert.Equal(0, found[b]);
        Assert.False(found.ContainsKey(missing));
    }

    [Fact]
    public async Task SetManyAsync_ThenGetMany_RoundTrips()
    {
        var prefix = Key();
        var items = Enumerable.Range(0, 50).Select(i => KeyValuePair.Create($"{prefix}:{i}", $"value-{i}")).ToList();
        await Cache.SetManyAsync(items);
        var found = await Cache.GetManyAsync<string>(items.Select(i => i.Key));
        Assert.Equal(50, found.Count);
        Assert.All(items, i => Assert.Equal(i.Value, found[i.Key]));
    }

    [Fact]
    public async Task DeleteManyAsync_CountsRemovedKeys()
    {
        var prefix = Key();
        await Cache.SetAsync(prefix + ":1", 1);
        await Cache.SetAsync(prefix + ":2", 2);
        var removed = await Cache.DeleteManyAsync([prefix + ":1", prefix + ":2", prefix + ":3"]);
        Assert.Equal(2, removed);
        Assert.False(await Cache.ExistsAsync(prefix + ":1"));
    }

    [Fact]
    public async Task AnyOperation_NullKey_ThrowsArgumentNullException()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await Cache.GetAsync<string>(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await Cache.SetAsync(null!, "v"));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await Cache.DeleteAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await Cache.ExistsAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await Cache.ExpireAsync(null!, TimeSpan.FromSeconds(1)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("k\r\nflush_all")]
    [InlineData("tab\tkey")]
    [InlineData("nul\0key")]
    public async Task AnyOperation_InvalidKey_ThrowsInvalidCacheKeyException(string key)
    {
        var ex = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Cache.SetAsync(key, "v"));
        Assert.Equal(key, ex.Key);
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Cache.GetAsync<string>(key));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Cache.DeleteAsync(key));
    }

    [Fact]
    public async Task AnyOperation_UnpairedSurrogateKey_ThrowsInvalidCacheKeyException()
    {
        var key = "bad" + '\uD800' + "surrogate";
        var ex = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Cache.SetAsync(key, "v"));
        Assert.Contains("surrogate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetAsync_OverLongKey_ThrowsAndStoresNothing()
    {
        var key = Key() + new string('x', 2000);
        var ex = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Cache.SetAsync(key, "v"));
        Assert.Contains("limit", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task SetAsync_NonPositiveTtl_ThrowsAndKeepsOldValue(int seconds)
    {
        var key = Key();
        await Cache.SetAsync(key, "old");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Cache.SetAsync(key, "new", TimeSpan.FromSeconds(seconds)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Cache.ExpireAsync(key, TimeSpan.FromSeconds(seconds)));
        Assert.Equal("old", (await Cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task SetManyAsync_OneBadKey_StoresNothing()
    {
        var good = Key();
        var items = new[] { KeyValuePair.Create(good, 1), KeyValuePair.Create("bad\nkey", 2) };
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Cache.SetManyAsync(items));
        Assert.False(await Cache.ExistsAsync(good));
    }

    [Fact]
    public async Task ConcurrentSetsAndGets_EachKeyReadsItsOwnValue()
    {
        var prefix = Key();
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            await Cache.SetAsync($"{prefix}:{i}", i, cancellationToken: ct);
            var back = await Cache.GetAsync<int>($"{prefix}:{i}", ct);
            Assert.Equal(i, back.Value);
        });
    }
}
