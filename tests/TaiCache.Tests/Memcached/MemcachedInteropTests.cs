using TaiCache.Memcached;
using TaiCache.Serialization;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>What reaches the server, seen from outside: a plain text-protocol client and the server's own stats. Own server per class.</summary>
public sealed class MemcachedInteropTests : IClassFixture<MemcachedServerFixture>, IAsyncLifetime
{
    private readonly MemcachedServerFixture _fixture;
    private readonly MemcachedCache _cache;

    public MemcachedInteropTests(MemcachedServerFixture fixture)
    {
        _fixture = fixture;
        _cache = new MemcachedCache(fixture.Options());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private MemcachedRawClient Raw() => new(_fixture.Server.Host, _fixture.Server.Port);

    [Fact]
    public async Task SetAsync_ItemReadWithPlainGet_HasTaiCacheFlagsAndEnvelopeBytes()
    {
        var key = $"{nameof(MemcachedInteropTests)}:interop:{Guid.NewGuid():N}";
        var value = new OrderLine("SKU-9", 2, 1.5m);
        await _cache.SetAsync(key, value);

        using var raw = Raw();
        var item = raw.Get(key);
        Assert.NotNull(item);
        Assert.Equal(MemcachedCache.ClientFlags, item.Value.Flags);
        Assert.Equal(0x54430001u, item.Value.Flags);
        Assert.Equal((byte)'T', item.Value.Data[0]);
        Assert.Equal((byte)'C', item.Value.Data[1]);
        Assert.Equal(CacheValueCodec.Default.Encode(key, value), item.Value.Data);
        Assert.Equal(value, CacheValueCodec.Default.Decode<OrderLine>(key, item.Value.Data));
    }

    [Fact]
    public async Task ItemInvalidatedByAnotherMetaClient_ReadsAsMiss_AndAddStoresOverIt()
    {
        var key = $"{nameof(MemcachedInteropTests)}:stale:{Guid.NewGuid():N}";
        var other = $"{nameof(MemcachedInteropTests)}:stale-other:{Guid.NewGuid():N}";
        await _cache.SetAsync(key, "before", TimeSpan.FromMinutes(1));
        await _cache.SetAsync(other, "live", TimeSpan.FromMinutes(1));

        // Another meta client invalidates it: memcached keeps the item but answers every read of it with X (stale).
        using var raw = Raw();
        Assert.Equal("HD", raw.Meta($"md {key} I T30"));

        Assert.False((await _cache.GetAsync<string>(key)).HasValue);
        var many = await _cache.GetManyAsync<string>([key, other]);
        Assert.False(many.ContainsKey(key));
        Assert.Equal("live", many[other]);
        Assert.False(await _cache.ExistsAsync(key));
        Assert.False((await _cache.GetAndTouchAsync<string>(key, TimeSpan.FromMinutes(1))).HasValue);

        // A stale item holds nothing live: an add replaces it, as it does a value expired by its record.
        Assert.True(await _cache.AddAsync(key, "after", TimeSpan.FromMinutes(1)));
        Assert.Equal("after", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetAsync_AnotherClientsIntegerPast64Bits_ErrorGivesOnlyAdviceThatWorks()
    {
        var key = $"{nameof(MemcachedInteropTests)}:bignum:{Guid.NewGuid():N}";
        using var raw = Raw();
        raw.Set(key, 0, "123456789012345678901234567890"u8.ToArray());

        // The advice once said to read it as byte[], which throws the same: every type is refused, so the message says so.
        foreach (var read in new Func<Task>[] { async () => await _cache.GetAsync<byte[]>(key), async () => await _cache.GetAsync<string>(key), async () => await _cache.GetAsync<long>(key) })
        {
            var ex = await Assert.ThrowsAsync<CacheSerializationException>(read);
            Assert.Contains("which no counter type holds", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("read it as byte[]", ex.Message, StringComparison.Ordinal);
            Assert.Contains("No type reads it, byte[] and string included", ex.Message, StringComparison.Ordinal);
        }

        // What the message offers instead does work.
        Assert.True(await _cache.DeleteAsync(key));
        await _cache.SetAsync(key, "mine");
        Assert.Equal("mine", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task ExpireAsync_TaiCacheItemGetsTheNewExpiryInItsEnvelope_ForeignItemOnlyItsTtl()
    {
        var ours = $"{nameof(MemcachedInteropTests)}:expire-ours:{Guid.NewGuid():N}";
        var foreign = $"{nameof(MemcachedInteropTests)}:expire-foreign:{Guid.NewGuid():N}";
        await _cache.SetAsync(ours, "v", TimeSpan.FromHours(1));
        using var raw = Raw();
        raw.Set(foreign, 7, "plain bytes"u8.ToArray());

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.True(await _cache.ExpireAsync(ours, TimeSpan.FromMinutes(5)));
        Assert.True(await _cache.ExpireAsync(foreign, TimeSpan.FromMinutes(5)));

        var item = raw.Get(ours)!.Value;
        Assert.Equal(MemcachedCache.ClientFlags, item.Flags);
        Assert.Equal("v", CacheValueCodec.Default.Decode<string>(ours, item.Data, out var expiresAt));
        Assert.InRange(expiresAt - before, 299_000, 301_000);
        Assert.Equal((7u, "plain bytes"), (raw.Get(foreign)!.Value.Flags, System.Text.Encoding.UTF8.GetString(raw.Get(foreign)!.Value.Data)));
        Assert.Matches(@" t(29\d|30[01])\b", raw.Meta($"mg {foreign} t"));
        Assert.Matches(@" t(29\d|30[01])\b", raw.Meta($"mg {ours} t"));
    }

    [Fact]
    public async Task InjectionKey_NeverReachesTheSocket()
    {
        const string evil = "k\r\nflush_all";
        var marker = $"{nameof(MemcachedInteropTests)}:marker:{Guid.NewGuid():N}";
        await _cache.SetAsync(marker, "still here");
        using var raw = Raw();
        var before = raw.Stats();

        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.SetAsync(evil, "v"));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.GetAsync<string>(evil));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.DeleteAsync(evil));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.ExistsAsync(evil));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.IncrementAsync(evil));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.AddAsync(evil, 1));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.TouchAsync(evil, TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.GetManyAsync<string>(["ok", evil]));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.SetManyAsync([KeyValuePair.Create("ok:" + marker, 1), KeyValuePair.Create(evil, 2)]));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.DeleteManyAsync([marker, evil]));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.SetAsync("k flush_all", "v"));

        var after = raw.Stats();
        Assert.Equal("0", after["cmd_flush"]);
        foreach (var stat in new[] { "cmd_get", "cmd_set", "cmd_touch", "total_items", "curr_items", "delete_hits", "delete_misses", "incr_misses", "incr_hits" })
        {
            Assert.Equal(before[stat], after[stat]);
        }

        Assert.Equal("still here", (await _cache.GetAsync<string>(marker)).Value);
    }
}
