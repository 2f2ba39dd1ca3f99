using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>Each memcached operation beyond the contract, on a real server.</summary>
public sealed class MemcachedOperationTests : IClassFixture<MemcachedServerFixture>, IAsyncLifetime
{
    private readonly MemcachedServerFixture _fixture;
    private readonly MemcachedCache _cache;

    public MemcachedOperationTests(MemcachedServerFixture fixture)
    {
        _fixture = fixture;
        _cache = new MemcachedCache(fixture.Options());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private static string Key(string test) => $"{nameof(MemcachedOperationTests)}:{test}:{Guid.NewGuid():N}";

    private MemcachedRawClient Raw() => new(_fixture.Server.Host, _fixture.Server.Port);

    [Fact]
    public async Task AddAsync_MissingKey_StoresAndExistingKey_ReturnsFalse()
    {
        var key = Key(nameof(AddAsync_MissingKey_StoresAndExistingKey_ReturnsFalse));
        Assert.True(await _cache.AddAsync(key, "first"));
        Assert.False(await _cache.AddAsync(key, "second"));
        Assert.Equal("first", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task ReplaceAsync_MissingKey_ReturnsFalseAndExistingKey_Replaces()
    {
        var key = Key(nameof(ReplaceAsync_MissingKey_ReturnsFalseAndExistingKey_Replaces));
        Assert.False(await _cache.ReplaceAsync(key, "x"));
        Assert.False(await _cache.ExistsAsync(key));
        await _cache.SetAsync(key, "old");
        Assert.True(await _cache.ReplaceAsync(key, "new"));
        Assert.Equal("new", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task CompareAndSwapAsync_UnchangedItem_StoresAndChangedItem_ReturnsFalse()
    {
        var key = Key(nameof(CompareAndSwapAsync_UnchangedItem_StoresAndChangedItem_ReturnsFalse));
        await _cache.SetAsync(key, 1);
        var read = await _cache.GetWithCasAsync<int>(key);
        Assert.True(read.HasValue);
        Assert.Equal(1, read.Value);
        Assert.NotEqual(0UL, read.Cas);
        Assert.True(await _cache.CompareAndSwapAsync(key, 2, read.Cas));
        Assert.False(await _cache.CompareAndSwapAsync(key, 3, read.Cas)); // token is stale now
        Assert.Equal(2, (await _cache.GetAsync<int>(key)).Value);

        var again = await _cache.GetWithCasAsync<int>(key);
        await _cache.DeleteAsync(key);
        Assert.False(await _cache.CompareAndSwapAsync(key, 4, again.Cas));
        Assert.False(await _cache.ExistsAsync(key));
        Assert.False((await _cache.GetWithCasAsync<int>(Key("missing"))).HasValue);
    }

    [Fact]
    public async Task IncrementAsync_MissingKey_CreatesAtInitialThenAdds()
    {
        var key = Key(nameof(IncrementAsync_MissingKey_CreatesAtInitialThenAdds));
        Assert.Equal(10UL, await _cache.IncrementAsync(key, delta: 5, initialValue: 10));
        Assert.Equal(15UL, await _cache.IncrementAsync(key, delta: 5, initialValue: 10));
        Assert.Equal(16UL, await _cache.IncrementAsync(key));
        Assert.Equal(6UL, await _cache.DecrementAsync(key, 10));
        Assert.Equal(0UL, await _cache.DecrementAsync(key, 100)); // memcached stops at zero
        Assert.Equal(0L, (await _cache.GetAsync<long>(key)).Value);
        Assert.Equal(7UL, await _cache.DecrementAsync(Key("dec"), 1, initialValue: 7));
    }

    [Fact]
    public async Task GetAsync_CounterTheTypeCannotHold_SaysSo()
    {
        var key = Key(nameof(GetAsync_CounterTheTypeCannotHold_SaysSo));
        await _cache.IncrementAsync(key, delta: 1, initialValue: 5_000_000_000);

        var overflow = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<int>(key));
        Assert.Contains("the counter 5000000000, which Int32 cannot hold", overflow.Message, StringComparison.Ordinal);
        Assert.Equal(5_000_000_000L, (await _cache.GetAsync<long>(key)).Value);
    }

    [Fact]
    public async Task IncrementAsync_NonNumericValue_ThrowsWrongTypeAndKeepsValue()
    {
        var key = Key(nameof(IncrementAsync_NonNumericValue_ThrowsWrongTypeAndKeepsValue));
        await _cache.SetAsync(key, "not a number");
        var ex = await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.IncrementAsync(key));
        Assert.Equal(key, ex.Key);
        Assert.DoesNotContain(key, ex.Message, StringComparison.Ordinal);
        Assert.Equal("not a number", (await _cache.GetAsync<string>(key)).Value); // and the client still works
    }

    [Fact]
    public async Task TouchAsync_SetsRemainingTtl()
    {
        var key = Key(nameof(TouchAsync_SetsRemainingTtl));
        await _cache.SetAsync(key, "v");
        Assert.True(await _cache.TouchAsync(key, TimeSpan.FromSeconds(500)));
        Assert.False(await _cache.TouchAsync(Key("missing"), TimeSpan.FromSeconds(5)));
        using var raw = Raw();
        var ttl = RemainingTtl(raw, key);
        Assert.InRange(ttl, 490, 501);
    }

    [Fact]
    public async Task GetAndTouchAsync_ReturnsValueAndSetsTtl()
    {
        var key = Key(nameof(GetAndTouchAsync_ReturnsValueAndSetsTtl));
        await _cache.SetAsync(key, "v", TimeSpan.FromSeconds(30));
        var hit = await _cache.GetAndTouchAsync<string>(key, TimeSpan.FromSeconds(900));
        Assert.Equal("v", hit.Value);
        using var raw = Raw();
        Assert.InRange(RemainingTtl(raw, key), 890, 901);
        Assert.False((await _cache.GetAndTouchAsync<string>(Key("missing"), TimeSpan.FromSeconds(9))).HasValue);
    }

    [Fact]
    public async Task SetAsync_SixtyDayTtl_IsSentAsAbsoluteUnixTime()
    {
        var key = Key(nameof(SetAsync_SixtyDayTtl_IsSentAsAbsoluteUnixTime));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cache = new MemcachedCache(_fixture.Options(o => o.TimeProvider = clock));
        // One second over the TTL rounded up: memcached may drop an item up to a second before its exptime.
        Assert.Equal(clock.GetUtcNow().ToUnixTimeSeconds() + (60 * 86400) + 1, cache.ToExptime(TimeSpan.FromDays(60)));
        Assert.Equal(30 * 86400, cache.ToExptime(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1)));
        Assert.Equal(clock.GetUtcNow().ToUnixTimeSeconds() + (30 * 86400) + 1, cache.ToExptime(TimeSpan.FromDays(30)));
        Assert.Equal(3, cache.ToExptime(TimeSpan.FromMilliseconds(1200)));
        Assert.Equal(2, cache.ToExptime(TimeSpan.FromMilliseconds(1)));

        await cache.SetAsync(key, "long", TimeSpan.FromDays(60));
        Assert.Equal("long", (await cache.GetAsync<string>(key)).Value); // a relative 5,184,000 s would be read as 1970 and expire at once
        using var raw = Raw();
        Assert.InRange(RemainingTtl(raw, key), (60 * 86400) - 120, (60 * 86400) + 120);
    }

    [Fact]
    public async Task SetAsync_ValueOverItemLimit_ThrowsBeforeSendingAndStoresNothing()
    {
        var key = Key(nameof(SetAsync_ValueOverItemLimit_ThrowsBeforeSendingAndStoresNothing));
        var big = RandomNumberGenerator.GetBytes(1024 * 1024);
        var ex = await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await _cache.SetAsync(key, big));
        Assert.Equal(key, ex.Key);
        Assert.False(await _cache.ExistsAsync(key));
        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await _cache.SetManyAsync([KeyValuePair.Create(key + ":ok", new byte[10]), KeyValuePair.Create(key, big)]));
        Assert.False(await _cache.ExistsAsync(key + ":ok"));

        var fits = RandomNumberGenerator.GetBytes(1000 * 1000);
        await _cache.SetAsync(key, fits);
        Assert.Equal(fits, (await _cache.GetAsync<byte[]>(key)).Value);
    }

    [Fact]
    public async Task SetAsync_LimitAboveServers_ServerRefusalMapsToTooLargeAndClientRecovers()
    {
        var key = Key(nameof(SetAsync_LimitAboveServers_ServerRefusalMapsToTooLargeAndClientRecovers));
        await using var cache = new MemcachedCache(_fixture.Options(o => { o.MaxItemBytes = 4 * 1024 * 1024; o.MaxConnectionsPerNode = 1; }));
        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await cache.SetAsync(key, RandomNumberGenerator.GetBytes(2 * 1024 * 1024)));
        await cache.SetAsync(key, "small");
        Assert.Equal("small", (await cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task KeyPrefix_IsolatesNamespacesAndIsOnTheWire()
    {
        var key = Key(nameof(KeyPrefix_IsolatesNamespacesAndIsOnTheWire));
        await using var a = new MemcachedCache(_fixture.Options(o => o.KeyPrefix = "tenantA:"));
        await using var b = new MemcachedCache(_fixture.Options(o => o.KeyPrefix = "tenantB:"));
        await a.SetAsync(key, "A");
        Assert.False((await b.GetAsync<string>(key)).HasValue);
        Assert.False((await _cache.GetAsync<string>(key)).HasValue);
        using var raw = Raw();
        Assert.NotNull(raw.Get("tenantA:" + key));
        Assert.Equal(1, await a.DeleteManyAsync([key]));
        Assert.Null(raw.Get("tenantA:" + key));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await a.SetAsync(new string('k', 250 - "tenantA:".Length + 1), 1));
    }

    [Fact]
    public async Task HashLongKeys_OverLongKey_StoredUnderSha256Name()
    {
        var key = Key(nameof(HashLongKeys_OverLongKey_StoredUnderSha256Name)) + new string('x', 400);
        await using var cache = new MemcachedCache(_fixture.Options(o => { o.HashLongKeys = true; o.KeyPrefix = "p:"; }));
        await cache.SetAsync(key, 42);
        Assert.Equal(42, (await cache.GetAsync<int>(key)).Value);
        Assert.Equal(42, (await cache.GetManyAsync<int>([key]))[key]);
        using var raw = Raw();
        var wire = "p:sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        Assert.NotNull(raw.Get(wire));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.SetAsync(key, 42));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.SetAsync("has space", 42));
    }

    [Fact]
    public async Task HashLongKeys_KeyShapedLikeAHashedKey_IsHashedToo_AndNeverNamesTheLongKey()
    {
        var longKey = Key(nameof(HashLongKeys_KeyShapedLikeAHashedKey_IsHashedToo_AndNeverNamesTheLongKey)) + new string('L', 300);
        var lookalike = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(longKey)));
        await using var cache = new MemcachedCache(_fixture.Options(o => { o.HashLongKeys = true; o.KeyPrefix = "p:"; }));
        await cache.SetAsync(longKey, "long");

        Assert.False((await cache.GetAsync<string>(lookalike)).HasValue);
        Assert.Empty(await cache.GetManyAsync<string>([lookalike]));
        await cache.SetAsync(lookalike, "short");
        Assert.Equal("long", (await cache.GetAsync<string>(longKey)).Value);
        Assert.Equal("short", (await cache.GetAsync<string>(lookalike)).Value);

        using var raw = Raw();
        Assert.NotNull(raw.Get("p:sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lookalike)))));
    }

    [Fact]
    public async Task GetManyAsync_LargeBatch_PipelinesAndReadsEveryValue()
    {
        var prefix = Key(nameof(GetManyAsync_LargeBatch_PipelinesAndReadsEveryValue));
        var items = Enumerable.Range(0, 3000).Select(i => KeyValuePair.Create($"{prefix}:{i}", new string('v', i % 700))).ToList();
        await _cache.SetManyAsync(items, TimeSpan.FromMinutes(5));
        var keys = items.Select(i => i.Key).Append(prefix + ":missing").ToList();
        var found = await _cache.GetManyAsync<string>(keys);
        Assert.Equal(3000, found.Count);
        Assert.All(items, i => Assert.Equal(i.Value, found[i.Key]));
        Assert.Equal(3000, await _cache.DeleteManyAsync(keys));
        Assert.Empty(await _cache.GetManyAsync<string>(keys));
    }

    [Fact]
    public async Task AnyOperation_CancelledToken_ThrowsAndClientStillWorks()
    {
        var key = Key(nameof(AnyOperation_CancelledToken_ThrowsAndClientStillWorks));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _cache.SetAsync(key, 1, cancellationToken: cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _cache.GetManyAsync<int>([key], cts.Token));
        Assert.False(await _cache.ExistsAsync(key));
    }

    [Fact]
    public async Task GetAsync_CounterAndForeignItems_ReadAsNumbersOrFailClearly()
    {
        var key = Key(nameof(GetAsync_CounterAndForeignItems_ReadAsNumbersOrFailClearly));
        using var raw = Raw();
        raw.Set(key, 0, "12345"u8.ToArray());
        Assert.Equal(12345L, (await _cache.GetAsync<long>(key)).Value);
        raw.Set(key + ":foreign", 7, "hello"u8.ToArray());
        var ex = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<string>(key + ":foreign"));
        Assert.Contains("not written by TaiCache", ex.Message, StringComparison.Ordinal);
    }

    private static int RemainingTtl(MemcachedRawClient raw, string key)
    {
        var line = raw.Meta($"mg {key} t");
        Assert.StartsWith("HD t", line, StringComparison.Ordinal);
        return int.Parse(line[4..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task GetStatisticsAsync_CountsItemsHitsAndMisses_AndKeepsTheConnectionUsable()
    {
        var key = Key(nameof(GetStatisticsAsync_CountsItemsHitsAndMisses_AndKeepsTheConnectionUsable));
        var before = await _cache.GetStatisticsAsync();
        await _cache.SetAsync(key, "v");
        Assert.True((await _cache.GetAsync<string>(key)).HasValue);
        Assert.False((await _cache.GetAsync<string>(key + ":missing")).HasValue);
        var after = await _cache.GetStatisticsAsync();

        // Other test classes share the server, so only lower bounds hold.
        var server = Assert.Single(after.Servers);
        Assert.Equal($"{_fixture.Server.Host}:{_fixture.Server.Port}", server.Key);
        Assert.True(server.Value.ContainsKey("version"));
        Assert.True(after.CurrentItems >= 1);
        Assert.True(after.Bytes > 0);
        Assert.True(after.LimitMaxBytes > 0);
        Assert.True(after.GetHits >= before.GetHits + 1);
        Assert.True(after.GetMisses >= before.GetMisses + 1);
        Assert.InRange(after.HitRatio, 0, 1);

        // The pooled connection is in step after a multi-line answer.
        Assert.Equal("v", (await _cache.GetAsync<string>(key)).Value);
    }
}
