using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tiering;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>Another client changes the TTL of a key TaiCache wrote: the expiry a hit reports follows Redis's own TTL.</summary>
public sealed class RedisForeignTtlTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _server;

    public RedisForeignTtlTests(RedisServerFixture server) => _server = server;

    [Fact]
    public async Task GetAsync_ForeignPersistAfterRecordedExpiryPassed_ReportsNoExpiry()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.TimeProvider = clock);
        await cache.SetAsync("k", "v", TimeSpan.FromMinutes(1));
        Assert.True(await cache.Multiplexer.GetDatabase().KeyPersistAsync(cache.KeyPrefix + "k"));

        clock.Advance(TimeSpan.FromMinutes(2)); // past the recorded expiry; Redis keeps the key for ever

        var hit = await cache.GetAsync<string>("k");
        Assert.Equal("v", hit.Value);
        Assert.Null(hit.ExpiresAt); // was the recorded, passed expiry: a multi-tier read then never copied it
    }

    [Fact]
    public async Task GetAsync_ForeignLongerExpireAfterRecordedExpiryPassed_ReportsRedisTtl()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.TimeProvider = clock);
        await cache.SetAsync("k", "v", TimeSpan.FromMinutes(1));
        Assert.True(await cache.Multiplexer.GetDatabase().KeyExpireAsync(cache.KeyPrefix + "k", TimeSpan.FromHours(1)));

        clock.Advance(TimeSpan.FromMinutes(2));

        var hit = await cache.GetAsync<string>("k");
        var left = hit.ExpiresAt!.Value - clock.GetUtcNow();
        Assert.InRange(left, TimeSpan.FromMinutes(50), TimeSpan.FromHours(1));
    }

    [Fact]
    public async Task GetAsync_ReadTtlFromServerAndForeignShorterExpire_ReportsNoMoreThanRedisGives()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.ReadTtlFromServer = true);
        await cache.SetAsync("k", "v", TimeSpan.FromMinutes(10));
        await cache.SetAsync("plain", "v"); // recorded no expiry at all
        var raw = cache.Multiplexer.GetDatabase();
        Assert.True(await raw.KeyExpireAsync(cache.KeyPrefix + "k", TimeSpan.FromSeconds(30)));
        Assert.True(await raw.KeyExpireAsync(cache.KeyPrefix + "plain", TimeSpan.FromSeconds(30)));
        var bound = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30) + TimeSpan.FromMilliseconds(50);

        var hit = await cache.GetAsync<string>("k");
        var plain = await cache.GetAsync<string>("plain");

        Assert.InRange(hit.ExpiresAt!.Value, bound - TimeSpan.FromSeconds(5), bound);
        Assert.InRange(plain.ExpiresAt!.Value, bound - TimeSpan.FromSeconds(5), bound);
    }

    [Fact]
    public async Task GetAsync_ReadTtlFromServerAndForeignPersist_ReportsNoExpiry()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.ReadTtlFromServer = true);
        await cache.SetAsync("k", "v", TimeSpan.FromMinutes(10));
        Assert.True(await cache.Multiplexer.GetDatabase().KeyPersistAsync(cache.KeyPrefix + "k"));

        Assert.Null((await cache.GetAsync<string>("k")).ExpiresAt);
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () =>
        {
            await cache.Multiplexer.GetDatabase().HashSetAsync(cache.KeyPrefix + "h", "f", "x");
            await cache.GetAsync<string>("h");
        });
    }

    [Fact]
    public async Task ReadManyAsync_ForeignPersistAndExpireAfterRecordedExpiryPassed_ReportRedisTtls()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.TimeProvider = clock);
        await cache.SetManyAsync([KeyValuePair.Create("p", "v"), KeyValuePair.Create("e", "v"), KeyValuePair.Create("own", "v")], TimeSpan.FromMinutes(1));
        await cache.SetAsync("later", "v", TimeSpan.FromMinutes(10));
        var raw = cache.Multiplexer.GetDatabase();
        Assert.True(await raw.KeyPersistAsync(cache.KeyPrefix + "p"));
        Assert.True(await raw.KeyExpireAsync(cache.KeyPrefix + "e", TimeSpan.FromHours(1)));
        Assert.True(await raw.KeyPersistAsync(cache.KeyPrefix + "own")); // then back to a TTL Redis holds for a while
        Assert.True(await raw.KeyExpireAsync(cache.KeyPrefix + "own", TimeSpan.FromMinutes(30)));

        clock.Advance(TimeSpan.FromMinutes(2));

        var hits = await ((IBatchReader)cache).ReadManyAsync<string>(["p", "e", "missing", "later", "own"], default);
        Assert.Equal(["v", "v", null, "v", "v"], hits.Select(h => h.HasValue ? h.Value : null));
        Assert.Null(hits[0].ExpiresAt);
        Assert.InRange(hits[1].ExpiresAt!.Value - clock.GetUtcNow(), TimeSpan.FromMinutes(50), TimeSpan.FromHours(1));
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromMinutes(8), hits[3].ExpiresAt!.Value, TimeSpan.FromSeconds(1)); // its record still holds: not asked
        Assert.InRange(hits[4].ExpiresAt!.Value - clock.GetUtcNow(), TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(30));
    }

    [Fact]
    public async Task ReadManyAsync_ReadTtlFromServerAndForeignShorterExpire_ReportsNoMoreThanRedisGives()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.ReadTtlFromServer = true);
        await cache.SetManyAsync([KeyValuePair.Create("a", 1), KeyValuePair.Create("b", 2)], TimeSpan.FromMinutes(10));
        Assert.True(await cache.Multiplexer.GetDatabase().KeyExpireAsync(cache.KeyPrefix + "a", TimeSpan.FromSeconds(30)));
        var bound = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30) + TimeSpan.FromMilliseconds(50);

        var hits = await ((IBatchReader)cache).ReadManyAsync<int>(["a", "b"], default);

        Assert.InRange(hits[0].ExpiresAt!.Value, bound - TimeSpan.FromSeconds(5), bound);
        Assert.InRange(hits[1].ExpiresAt!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task MultiTierRead_ReadTtlFromServerAndForeignShorterExpire_L1CopyLivesNoLongerThanRedisKey()
    {
        await using var redis = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests)), o => o.ReadTtlFromServer = true);
        await redis.SetAsync("k", "v", TimeSpan.FromMinutes(10));
        Assert.True(await redis.Multiplexer.GetDatabase().KeyExpireAsync(redis.KeyPrefix + "k", TimeSpan.FromSeconds(30)));
        var bound = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30) + TimeSpan.FromMilliseconds(50);
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1" });
        var options = new MultiTierCacheOptions { Name = "mt", OwnsTiers = false };
        options.Tiers.Add(l1);
        options.Tiers.Add(redis);
        await using var multi = new MultiTierCache(options);

        Assert.Equal("v", (await multi.GetAsync<string>("k")).Value);

        var copy = await l1.GetAsync<string>("k");
        Assert.Equal("v", copy.Value);
        Assert.True(copy.ExpiresAt <= bound, $"the L1 copy expires at {copy.ExpiresAt:O}, after Redis's key ({bound:O})");
    }
}
