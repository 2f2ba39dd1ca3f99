using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// memcached's recache token (the <c>W</c> flag) on an item another meta client invalidated (<c>md key I</c>): memcached
/// gives it to the first <c>mg</c> that reads the item, whatever its flags. TaiCache's reads never refill, so they must
/// leave the token to the client that does. Real memcached, own server per class.
/// </summary>
public sealed class MemcachedRecacheTokenTests : IClassFixture<MemcachedServerFixture>, IAsyncLifetime
{
    private readonly MemcachedServerFixture _fixture;
    private readonly MemcachedCache _cache;

    public MemcachedRecacheTokenTests(MemcachedServerFixture fixture)
    {
        _fixture = fixture;
        _cache = new MemcachedCache(fixture.Options());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private static string Key(string test) => $"{nameof(MemcachedRecacheTokenTests)}:{test}:{Guid.NewGuid():N}";

    private MemcachedRawClient Raw() => new(_fixture.Server.Host, _fixture.Server.Port);

    [Theory]
    [InlineData("get")]
    [InlineData("get-with-cas")]
    [InlineData("exists")]
    [InlineData("get-many")]
    [InlineData("get-and-touch")]
    [InlineData("touch")]
    public async Task PlainRead_OfAnInvalidatedItem_LeavesTheRecacheTokenToTheRefiller(string call)
    {
        var key = Key(nameof(PlainRead_OfAnInvalidatedItem_LeavesTheRecacheTokenToTheRefiller) + call);
        await _cache.SetAsync(key, "before", TimeSpan.FromMinutes(5));
        using var raw = Raw();
        Assert.Equal("HD", raw.Meta($"md {key} I"));

        // TaiCache reads the stale item as a miss, as documented...
        Assert.False(call switch
        {
            "get" => (await _cache.GetAsync<string>(key)).HasValue,
            "get-with-cas" => (await _cache.GetWithCasAsync<string>(key)).HasValue,
            "exists" => await _cache.ExistsAsync(key),
            "get-many" => (await _cache.GetManyAsync<string>([key])).ContainsKey(key),
            "get-and-touch" => (await _cache.GetAndTouchAsync<string>(key, TimeSpan.FromMinutes(5))).HasValue,
            _ => await _cache.TouchAsync(key, TimeSpan.FromMinutes(5)),
        });

        // ...and the client that refills it (here a raw meta client) is the one that wins the right to: memcached handed
        // W to TaiCache's read, which never refills, so every later reader got Z (someone else refills) and the item
        // stayed stale until its TTL ran out.
        var refiller = raw.Meta($"mg {key} c t");
        Assert.StartsWith("HD", refiller, StringComparison.Ordinal);
        Assert.Contains(" X", refiller, StringComparison.Ordinal); // still stale: nothing refilled it
        Assert.Contains(" W", refiller, StringComparison.Ordinal);
        Assert.DoesNotContain(" Z", refiller, StringComparison.Ordinal);
        Assert.Contains(" Z", raw.Meta($"mg {key} c"), StringComparison.Ordinal); // and only the refiller
    }

    [Fact]
    public async Task PlainRead_OfAnInvalidatedItem_KeepsItsTtl()
    {
        var key = Key(nameof(PlainRead_OfAnInvalidatedItem_KeepsItsTtl));
        await _cache.SetAsync(key, "before", TimeSpan.FromMinutes(5));
        using var raw = Raw();
        Assert.Equal("HD", raw.Meta($"md {key} I T30"));

        Assert.False((await _cache.GetAsync<string>(key)).HasValue);

        // The token given back, the stale item keeps the TTL its invalidation gave it.
        var seconds = int.Parse(raw.Meta($"mg {key} t").Split(' ').Single(f => f.StartsWith('t'))[1..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 25, 30);
    }

    [Fact]
    public async Task PlainRead_OfAnItemRefilledMeanwhile_IsAHitAndTakesNoToken()
    {
        var key = Key(nameof(PlainRead_OfAnItemRefilledMeanwhile_IsAHitAndTakesNoToken));
        await _cache.SetAsync(key, "before", TimeSpan.FromMinutes(5));
        using var raw = Raw();
        Assert.Equal("HD", raw.Meta($"md {key} I"));
        Assert.Contains(" W", raw.Meta($"mg {key} c"), StringComparison.Ordinal); // the refiller wins...
        await _cache.SetAsync(key, "after", TimeSpan.FromMinutes(5)); // ...and refills

        Assert.Equal("after", (await _cache.GetAsync<string>(key)).Value);
        var line = raw.Meta($"mg {key} c");
        Assert.DoesNotContain(" X", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" W", line, StringComparison.Ordinal);
    }
}
