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

    /// <summary>
    /// Another client replaces a value again and again, alternating a value that lives a minute with one that lives an
    /// hour. Every hit that takes its TTL from Redis (with <see cref="RedisCacheOptions.ReadTtlFromServer"/>, single and
    /// batch, and without it once the recorded expiry has passed) reports the TTL of the value it reports: the value and
    /// its TTL are read in one step. A batch used to send its PTTLs a round trip after its MGET, so a value replaced in
    /// between was reported with the other value's TTL (a minute-long value said to live an hour).
    /// </summary>
    [Fact]
    public async Task ServerTtlReads_ValueReplacedConcurrently_TtlIsAlwaysThatOfTheValueReported()
    {
        var prefix = RedisTestHelpers.UniquePrefix(nameof(RedisForeignTtlTests));
        await using var writer = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, prefix);
        await using var fromServer = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, prefix, o => o.ReadTtlFromServer = true);
        var late = new FakeTimeProvider(DateTimeOffset.UtcNow + TimeSpan.FromHours(2)); // every recorded expiry has passed
        await using var recordPassed = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, prefix, o => o.TimeProvider = late);
        await writer.SetAsync("k", "minute", TimeSpan.FromMinutes(1));

        using var stop = new CancellationTokenSource();
        var writes = Task.Run(async () =>
        {
            long n = 0;
            while (!stop.IsCancellationRequested)
            {
                await writer.SetAsync("k", "minute", TimeSpan.FromMinutes(1));
                await writer.SetAsync("k", "hour", TimeSpan.FromHours(1));
                n++;
            }

            return n;
        });

        var wrong = new List<string>();
        var seen = new HashSet<string>();
        void Check(string how, CacheResult<string> hit, DateTimeOffset now)
        {
            Assert.True(hit.HasValue);
            seen.Add(hit.Value);
            var left = hit.ExpiresAt!.Value - now;
            var fits = hit.Value == "minute" ? left <= TimeSpan.FromMinutes(1.05) : left >= TimeSpan.FromMinutes(50);
            if (!fits)
            {
                wrong.Add($"{how}: '{hit.Value}' said to live {left}");
            }
        }

        for (var i = 0; i < 300; i++)
        {
            Check("batch, ReadTtlFromServer", (await ((IBatchReader)fromServer).ReadManyAsync<string>(["k"], default))[0], DateTimeOffset.UtcNow);
            Check("single, ReadTtlFromServer", await fromServer.GetAsync<string>("k"), DateTimeOffset.UtcNow);
            Check("batch, record passed", (await ((IBatchReader)recordPassed).ReadManyAsync<string>(["k"], default))[0], late.GetUtcNow());
            Check("single, record passed", await recordPassed.GetAsync<string>("k"), late.GetUtcNow());
        }

        await stop.CancelAsync();
        Assert.True(await writes > 100, "the writer kept replacing the value while the reads ran");
        Assert.Equal(["hour", "minute"], seen.Order(StringComparer.Ordinal)); // both values were read
        Assert.True(wrong.Count == 0, $"{wrong.Count} hits reported another value's TTL, first: {wrong.FirstOrDefault()}");
    }
}
