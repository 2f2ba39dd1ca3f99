using System.Text;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>Redis-specific behaviour on a real single redis-server: data structures, TTL, scans, errors, namespaces.</summary>
public sealed class RedisCacheTests : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _server;
    private RedisCache _cache = null!;
    private string _prefix = string.Empty;

    public RedisCacheTests(RedisServerFixture server) => _server = server;

    public async Task InitializeAsync()
    {
        _prefix = RedisTestHelpers.UniquePrefix(nameof(RedisCacheTests), "run");
        _cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix);
    }

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private IDatabase Raw => _cache.Multiplexer.GetDatabase();

    [Fact]
    public async Task KeysAsync_CacheDisposedMidScan_ThrowsObjectDisposedException()
    {
        // The scan's next page ran on the connection the disposal closed and was reported as a connection failure.
        var prefix = RedisTestHelpers.UniquePrefix(nameof(RedisCacheTests), "disposed-scan");
        var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, prefix);
        await cache.SetManyAsync(Enumerable.Range(0, 50).Select(i => KeyValuePair.Create("k" + i, i)));
        var scan = cache.KeysAsync(pageSize: 5).GetAsyncEnumerator();
        Assert.True(await scan.MoveNextAsync());

        await cache.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            while (await scan.MoveNextAsync())
            {
            }
        });
        await scan.DisposeAsync();
    }

    [Fact]
    public async Task Lists_PushPopRangeLength_KeepOrderAndTypes()
    {
        Assert.Equal(1, await _cache.ListRightPushAsync("list", new OrderLine("a", 1, 1m)));
        Assert.Equal(3, await _cache.ListRightPushManyAsync("list", [new OrderLine("b", 2, 2m), new OrderLine("c", 3, 3m)]));
        Assert.Equal(4, await _cache.ListLeftPushAsync("list", new OrderLine("z", 0, 0m)));

        Assert.Equal(4, await _cache.ListLengthAsync("list"));
        var all = await _cache.ListRangeAsync<OrderLine>("list");
        Assert.Equal(["z", "a", "b", "c"], all.Select(l => l.Sku));
        Assert.Equal(["a", "b"], (await _cache.ListRangeAsync<OrderLine>("list", 1, 2)).Select(l => l.Sku));

        Assert.Equal("z", (await _cache.ListLeftPopAsync<OrderLine>("list")).Value.Sku);
        Assert.Equal("c", (await _cache.ListRightPopAsync<OrderLine>("list")).Value.Sku);
        Assert.Equal(2, await _cache.ListLengthAsync("list"));
        Assert.False((await _cache.ListLeftPopAsync<OrderLine>("empty-list")).HasValue);
        Assert.Empty(await _cache.ListRangeAsync<OrderLine>("empty-list"));
    }

    [Fact]
    public async Task Lists_PopOfAnItemThatCannotBeRead_PutsItBack_NothingLost()
    {
        await _cache.ListRightPushManyAsync("jobs", ["job-1", "job-2", "job-3"]);

        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.ListLeftPopAsync<int>("jobs"));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.ListRightPopAsync<int>("jobs"));
        await Raw.ListRightPushAsync(_prefix + "jobs", "plain bytes from another client");
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.ListRightPopAsync<string>("jobs"));

        Assert.Equal(4, await _cache.ListLengthAsync("jobs"));
        Assert.Equal("job-1", (await _cache.ListLeftPopAsync<string>("jobs")).Value); // still first, in order
        Assert.Equal(["job-2", "job-3"], await _cache.ListRangeAsync<string>("jobs", 0, 1));
    }

    [Fact]
    public async Task Hashes_FieldsReadByGetAll_WrittenBackByTheManyFieldOverload_SameRulesAsOneField()
    {
        await _cache.HashSetAsync("fields", string.Empty, 1);
        await _cache.HashSetAsync("fields", "  ", 2);
        var all = await _cache.HashGetAllAsync<int>("fields");

        await _cache.HashSetAsync("fields-copy", all);

        Assert.Equal(all.OrderBy(p => p.Key), (await _cache.HashGetAllAsync<int>("fields-copy")).OrderBy(p => p.Key));
        var bad = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.HashSetAsync("fields", [KeyValuePair.Create("bad\nfield", 1)]));
        Assert.StartsWith("The hash field", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HashGetAllAsync_ForeignFieldNamesNotUtf8_ThrowsInsteadOfCollapsingThem()
    {
        await _cache.HashSetAsync("foreign-fields", "ok", 1);
        var raw = _cache.Multiplexer.GetDatabase();
        var physical = _cache.KeyPrefix + "foreign-fields";
        var envelope = await raw.HashGetAsync(physical, "ok");
        // Two names that decode to the same text with replacement characters: read as strings they were one entry.
        await raw.HashSetAsync(physical, [new HashEntry(new byte[] { 0x61, 0xFF }, envelope), new HashEntry(new byte[] { 0x61, 0xFE }, envelope)]);

        var ex = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.HashGetAllAsync<int>("foreign-fields"));
        Assert.Contains("not UTF-8", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await _cache.HashGetAsync<int>("foreign-fields", "ok")).Value);
    }

    [Fact]
    public async Task Hashes_SetGetAllDeleteExists_RoundTripTypedValues()
    {
        Assert.True(await _cache.HashSetAsync("hash", "name", "Ada"));
        Assert.False(await _cache.HashSetAsync("hash", "name", "Grace"));
        await _cache.HashSetAsync("hash", new[] { KeyValuePair.Create("city", "London"), KeyValuePair.Create("empty", string.Empty) });

        Assert.Equal("Grace", (await _cache.HashGetAsync<string>("hash", "name")).Value);
        Assert.False((await _cache.HashGetAsync<string>("hash", "nope")).HasValue);
        Assert.True(await _cache.HashExistsAsync("hash", "city"));
        var all = await _cache.HashGetAllAsync<string>("hash");
        Assert.Equal(3, all.Count);
        Assert.Equal(string.Empty, all["empty"]);

        Assert.True(await _cache.HashDeleteAsync("hash", "city"));
        Assert.False(await _cache.HashDeleteAsync("hash", "city"));
        Assert.False(await _cache.HashExistsAsync("hash", "city"));
        var bad = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _cache.HashSetAsync("hash", "bad\nfield", 1));
        Assert.StartsWith("The hash field", bad.Message, StringComparison.Ordinal);

        // Redis takes an empty field; so does the cache.
        await _cache.HashSetAsync("hash", string.Empty, 5);
        Assert.Equal(5, (await _cache.HashGetAsync<int>("hash", string.Empty)).Value);
    }

    [Fact]
    public async Task CollectionAndCounterCommands_AreCountedInMetrics_AsTheValueOperationsAre()
    {
        using var metrics = new TaiCache.Metrics.MetricsCollector("collections", "redis");
        await using var cache = await RedisCache.ConnectAsync(_server.ConnectionString, new RedisCacheOptions { KeyPrefix = _prefix + "metrics:", Metrics = metrics });

        await cache.ListRightPushAsync("l", 1);                      // set
        Assert.True((await cache.ListLeftPopAsync<int>("l")).HasValue); // hit
        Assert.False((await cache.ListLeftPopAsync<int>("l")).HasValue); // miss: empty
        await cache.HashSetAsync("h", "f", 1);                       // set
        Assert.False((await cache.HashGetAsync<int>("h", "nope")).HasValue); // miss
        Assert.True(await cache.HashDeleteAsync("h", "f"));          // delete
        Assert.False(await cache.SetContainsAsync("s", 1));          // miss
        await cache.IncrementAsync("c", 2);                          // set

        var snapshot = metrics.GetSnapshot();
        Assert.Equal((3L, 1L, 3L, 1L), (snapshot.Sets, snapshot.Hits, snapshot.Misses, snapshot.Deletes));
    }

    [Fact]
    public async Task Sets_AddRemoveContainsMembersCount_CompareTypedMembers()
    {
        Assert.True(await _cache.SetAddAsync("set", new OrderLine("a", 1, 1m)));
        Assert.False(await _cache.SetAddAsync("set", new OrderLine("a", 1, 1m)));
        Assert.True(await _cache.SetAddAsync("set", new OrderLine("b", 2, 2m)));

        Assert.Equal(2, await _cache.SetLengthAsync("set"));
        Assert.True(await _cache.SetContainsAsync("set", new OrderLine("b", 2, 2m)));
        Assert.False(await _cache.SetContainsAsync("set", new OrderLine("b", 3, 2m)));
        Assert.Equal(["a", "b"], (await _cache.SetMembersAsync<OrderLine>("set")).Select(l => l.Sku).Order());

        Assert.True(await _cache.SetRemoveAsync("set", new OrderLine("a", 1, 1m)));
        Assert.Equal(1, await _cache.SetLengthAsync("set"));
    }

    [Fact]
    public async Task SortedSets_AddScoreRangeRemoveCount_OrderByScore()
    {
        Assert.True(await _cache.SortedSetAddAsync("zset", "bronze", 3));
        Assert.True(await _cache.SortedSetAddAsync("zset", "gold", 1));
        Assert.True(await _cache.SortedSetAddAsync("zset", "silver", 2));
        Assert.False(await _cache.SortedSetAddAsync("zset", "bronze", 2.5));

        Assert.Equal(2.5, await _cache.SortedSetScoreAsync("zset", "bronze"));
        Assert.Null(await _cache.SortedSetScoreAsync("zset", "tin"));
        Assert.Equal(["gold", "silver", "bronze"], await _cache.SortedSetRangeAsync<string>("zset"));
        Assert.Equal(["bronze", "silver"], await _cache.SortedSetRangeDescendingAsync<string>("zset", 0, 1));
        Assert.Equal(3, await _cache.SortedSetLengthAsync("zset"));
        Assert.True(await _cache.SortedSetRemoveAsync("zset", "gold"));
        Assert.Equal(2, await _cache.SortedSetLengthAsync("zset"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await _cache.SortedSetAddAsync("zset", "x", double.NaN));
    }

    [Fact]
    public async Task Counters_IncrementDecrement_StoredAsPlainIntegersOtherClientsRead()
    {
        Assert.False((await _cache.GetCounterAsync("hits")).HasValue);
        Assert.Equal(5, await _cache.IncrementAsync("hits", 5));
        Assert.Equal(6, await _cache.IncrementAsync("hits"));
        Assert.Equal(2, await _cache.DecrementAsync("hits", 4));
        Assert.Equal(2, (await _cache.GetCounterAsync("hits")).Value);

        // Another client reads a plain decimal integer, and its own INCR continues the count.
        Assert.Equal("2", (string?)await Raw.StringGetAsync(_prefix + "hits"));
        await Raw.StringIncrementAsync(_prefix + "hits", 10);
        Assert.Equal(12, (await _cache.GetCounterAsync("hits")).Value);
    }

    [Fact]
    public async Task Counters_ReadThroughGetAsAnyIntegerType_AsMemcachedCountersAre()
    {
        Assert.Equal(12, await _cache.IncrementAsync("visits", 12));
        Assert.Equal(-3, await _cache.DecrementAsync("debt", 3));

        Assert.Equal(12L, (await _cache.GetAsync<long>("visits")).Value);
        Assert.Equal(12, (await _cache.GetAsync<int>("visits")).Value);
        Assert.Equal(12UL, (await _cache.GetAsync<ulong>("visits")).Value);
        Assert.Equal("12", (await _cache.GetAsync<string>("visits")).Value);
        Assert.Equal(-3L, (await _cache.GetAsync<long>("debt")).Value);
        Assert.Equal(12L, (await _cache.GetManyAsync<long>(["visits", "debt"]))["visits"]);

        // A negative count has no unsigned reading, and a type that is no integer cannot read a counter at all.
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<ulong>("debt"));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<OrderLine>("visits"));

        // The error says what the bytes are: a counter too large for the type, not another client's bytes.
        await _cache.IncrementAsync("huge", 5_000_000_000);
        var overflow = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<int>("huge"));
        Assert.Contains("the counter 5000000000, which Int32 cannot hold", overflow.Message, StringComparison.Ordinal);

        // Another client's integer past 64 bits is no counter of any type, and not "bytes without TaiCache's header".
        foreach (var digits in new[] { "99999999999999999999", "-123456789012345678901234567890" })
        {
            await Raw.StringSetAsync(_prefix + "bignum", digits);
            var big = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<long>("bignum"));
            Assert.Contains($"the integer {digits}, which no counter type holds", big.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Counters_OnATaiCacheValue_ThrowWrongTypeNamingTheKey()
    {
        await _cache.SetAsync("not-a-counter", "text");
        var ex = await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.IncrementAsync("not-a-counter"));
        Assert.Equal("not-a-counter", ex.Key);
        Assert.Contains(TaiCacheDiagnostics.DescribeKey("not-a-counter"), ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.GetCounterAsync("not-a-counter"));
    }

    [Fact]
    public async Task WrongType_ListOpOnStringAndGetOnList_ThrowCacheWrongTypeException()
    {
        await _cache.SetAsync("string-key", 1);
        await _cache.ListRightPushAsync("list-key", 1);

        var onString = await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.ListRightPushAsync("string-key", 2));
        Assert.Equal("string-key", onString.Key);
        Assert.Contains(TaiCacheDiagnostics.DescribeKey("string-key"), onString.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("string-key", onString.Message, StringComparison.Ordinal);

        var onList = await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.GetAsync<int>("list-key"));
        Assert.Equal("list-key", onList.Key);
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.HashGetAsync<int>("list-key", "f"));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.SortedSetAddAsync("list-key", 1, 1));

        // Nothing was changed by the refused operations.
        Assert.Equal(1, (await _cache.GetAsync<int>("string-key")).Value);
        Assert.Equal(1, await _cache.ListLengthAsync("list-key"));
    }

    [Theory]
    [InlineData(new byte[] { 0xde, 0xad, 0xbe, 0xef })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 1, 1, 0, 0xc1, 0xc1 })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 1, 1, 1, 0xff, 0xff, 0xff, 0x7f, 0x00 })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 9, 1, 0, 0x01 })]
    public async Task GetAsync_GarbageBytesWrittenByAnotherClient_ThrowsSerializationExceptionNamingKey(byte[] garbage)
    {
        await Raw.StringSetAsync(_prefix + "garbage", garbage);

        var ex = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<OrderLine>("garbage"));

        Assert.Equal("garbage", ex.Key);
        Assert.Contains(TaiCacheDiagnostics.DescribeKey("garbage"), ex.Message, StringComparison.Ordinal);
        await Raw.ListRightPushAsync(_prefix + "garbage-list", garbage);
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.ListRangeAsync<OrderLine>("garbage-list"));
    }

    [Fact]
    public async Task GetAsync_ValueOfAnotherType_ThrowsSerializationException()
    {
        await _cache.SetAsync("typed", "not a number");
        var ex = await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<int>("typed"));
        Assert.Equal("typed", ex.Key);
    }

    [Fact]
    public async Task StoredBytes_StartWithTheTaiCacheEnvelope()
    {
        await _cache.SetAsync("envelope", 42);
        var raw = (byte[])(await Raw.StringGetAsync(_prefix + "envelope"))!;
        Assert.Equal((byte)'T', raw[0]);
        Assert.Equal((byte)'C', raw[1]);
        Assert.Equal(1, raw[2]);
    }

    [Fact]
    public async Task BatchesAndSingleKeys_UseThePrefixedName_OtherClientsSee()
    {
        // Keys are sent as the prefix's bytes then the key's text: every path must land on prefix + key, non-ASCII too.
        await _cache.SetManyAsync([KeyValuePair.Create("batch:1", 1), KeyValuePair.Create("batch:ü", 2)]);
        await _cache.SetAsync("single:é", 3);
        await _cache.IncrementAsync("count:1", 4);
        foreach (var key in new[] { "batch:1", "batch:ü", "single:é", "count:1" })
        {
            Assert.True(await Raw.KeyExistsAsync(_prefix + key), $"{_prefix + key} is missing");
        }

        await Raw.StringSetAsync(_prefix + "other:ü", await Raw.StringGetAsync(_prefix + "single:é"));
        var read = await _cache.GetManyAsync<int>(["batch:1", "batch:ü", "other:ü", "absent"]);
        Assert.Equal(new Dictionary<string, int> { ["batch:1"] = 1, ["batch:ü"] = 2, ["other:ü"] = 3 }, read);
        Assert.Equal(2, await _cache.DeleteManyAsync(["batch:1", "batch:ü"]));
        Assert.False(await Raw.KeyExistsAsync(_prefix + "batch:1"));
    }

    [Fact]
    public async Task SubMillisecondTtl_IsRoundedUpToOneMillisecond_NotSentAsZero()
    {
        // Redis counts in milliseconds; 0.5 ms truncated would go out as PX 0, which Redis refuses.
        var halfMs = TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond / 2);
        await _cache.SetAsync("submilli", 1, halfMs);
        await _cache.SetManyAsync([KeyValuePair.Create("submilli:1", 1), KeyValuePair.Create("submilli:2", 2)], halfMs);

        await _cache.SetAsync("submilli:expire", 1);
        Assert.True(await _cache.ExpireAsync("submilli:expire", TimeSpan.FromMinutes(5) + halfMs));
        var pttl = await Raw.ExecuteAsync("PTTL", _prefix + "submilli:expire");
        Assert.InRange((long)pttl, 299_000, 300_001);
    }

    [Fact]
    public async Task ExpireAsync_KeysTaiCacheDidNotEncode_GetTheTtlWithTheirBytesUntouched()
    {
        await Raw.StringSetAsync(_prefix + "foreign:text", "TC-looking text");
        await Raw.StringSetAsync(_prefix + "foreign:short", "TC");
        await Raw.ListRightPushAsync(_prefix + "foreign:list", "a");
        await _cache.IncrementAsync("foreign:counter", 5);

        foreach (var key in new[] { "foreign:text", "foreign:short", "foreign:list", "foreign:counter" })
        {
            Assert.True(await _cache.ExpireAsync(key, TimeSpan.FromMinutes(5)), key);
            Assert.InRange((long)await Raw.ExecuteAsync("PTTL", _prefix + key), 299_000, 300_000);
        }

        Assert.Equal("TC-looking text", (string?)await Raw.StringGetAsync(_prefix + "foreign:text"));
        Assert.Equal("TC", (string?)await Raw.StringGetAsync(_prefix + "foreign:short"));
        Assert.Equal("a", (string?)await Raw.ListGetByIndexAsync(_prefix + "foreign:list", 0));
        Assert.Equal(5, await _cache.IncrementAsync("foreign:counter", 0));
    }

    [Fact]
    public async Task TtlAsync_MissingPersistentAndExpiring_AreTold()
    {
        await _cache.SetAsync("persistent", 1);
        await _cache.SetAsync("expiring", 1, TimeSpan.FromMinutes(10));

        Assert.False((await _cache.TtlAsync("missing")).HasValue);
        var persistent = await _cache.TtlAsync("persistent");
        Assert.True(persistent.HasValue);
        Assert.Null(persistent.Value);
        var expiring = (await _cache.TtlAsync("expiring")).Value;
        Assert.InRange(expiring!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task DefaultTtl_AppliesWhenNoTtlIsGiven()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix + "dflt:", o => o.DefaultTtl = TimeSpan.FromMinutes(3));
        await cache.SetAsync("k", 1);
        await cache.SetManyAsync([KeyValuePair.Create("m", 1)]);
        Assert.InRange((await cache.TtlAsync("k")).Value!.Value, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(3));
        Assert.InRange((await cache.TtlAsync("m")).Value!.Value, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(3));
    }

    [Fact]
    public async Task MemoryUsageAsync_ExistingAndMissing()
    {
        await _cache.SetAsync("mem", new string('x', 4000));
        Assert.True(await _cache.MemoryUsageAsync("mem") > 100);
        Assert.Null(await _cache.MemoryUsageAsync("mem-missing"));
    }

    [Fact]
    public async Task InfoAndStatistics_ReportTheServer()
    {
        await _cache.SetAsync("s", 1);
        await _cache.GetAsync<int>("s");
        var info = Assert.Single(await _cache.InfoAsync("server"));
        Assert.StartsWith("7.", info.Values["redis_version"], StringComparison.Ordinal);
        Assert.False(info.IsReplica);

        var stats = await _cache.GetStatisticsAsync();
        Assert.Equal(1, stats.Primaries);
        Assert.True(stats.Keys >= 1);
        Assert.True(stats.KeyspaceHits >= 1);
        Assert.True(stats.UsedMemoryBytes > 0);
        Assert.InRange(stats.HitRatio, 0, 1);
    }

    [Fact]
    public async Task Namespaces_TwoPrefixes_NeverSeeEachOther()
    {
        var root = RedisTestHelpers.UniquePrefix(nameof(RedisCacheTests));
        await using var tenantA = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, root + "a:");
        await using var tenantB = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, root + "b:");

        await tenantA.SetAsync("user:1", "A");
        await tenantB.SetAsync("user:1", "B");
        await tenantB.SetAsync("only-b", 1);

        Assert.Equal("A", (await tenantA.GetAsync<string>("user:1")).Value);
        Assert.Equal("B", (await tenantB.GetAsync<string>("user:1")).Value);
        Assert.False(await tenantA.ExistsAsync("only-b"));
        Assert.Equal(["user:1"], await RedisTestHelpers.ToListAsync(tenantA.KeysAsync()));
        Assert.Empty(await tenantA.GetManyAsync<int>(["only-b"]));

        Assert.Equal(1, await tenantA.DeleteByPatternAsync("*"));
        Assert.Equal(2, (await RedisTestHelpers.ToListAsync(tenantB.KeysAsync())).Count);
        Assert.Equal("B", (await tenantB.GetAsync<string>("user:1")).Value);
    }

    [Fact]
    public async Task Namespaces_PrefixWithGlobCharacters_IsMatchedLiterally()
    {
        var root = RedisTestHelpers.UniquePrefix(nameof(RedisCacheTests));
        await using var star = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, root + "t*:");
        await using var other = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, root + "tx:");
        await star.SetAsync("k", 1);
        await other.SetAsync("k", 2);

        Assert.Equal(["k"], await RedisTestHelpers.ToListAsync(star.KeysAsync()));
        Assert.Equal(1, await star.DeleteByPatternAsync("*"));
        Assert.True(await other.ExistsAsync("k"));
    }

    [Fact]
    public void EscapePattern_EscapesEveryGlobCharacter()
    {
        Assert.Equal(@"a\*b\?c\[d\]e\\f", RedisCache.EscapePattern(@"a*b?c[d]e\f"));
        Assert.Equal("plain:key", RedisCache.EscapePattern("plain:key"));
        Assert.Throws<ArgumentNullException>(() => RedisCache.EscapePattern(null!));
    }

    [Fact]
    public async Task GlobEscaping_KeysWithGlobCharacters_AreListedAndRemovedOnlyLiterally()
    {
        foreach (var key in new[] { "a*", "ab", "a", "x[", "x[y", "xy", @"q\", "q" })
        {
            await _cache.SetAsync("glob:" + key, key);
        }

        Assert.Equal(["glob:a*"], await RedisTestHelpers.ToListAsync(_cache.KeysAsync("glob:" + RedisCache.EscapePattern("a*"))));
        Assert.Equal(["glob:a", "glob:a*", "glob:ab"], await RedisTestHelpers.ToListAsync(_cache.KeysAsync("glob:a*")));

        Assert.Equal(1, await _cache.DeleteByPatternAsync("glob:" + RedisCache.EscapePattern("x[")));
        Assert.False(await _cache.ExistsAsync("glob:x["));
        Assert.True(await _cache.ExistsAsync("glob:x[y"));
        Assert.True(await _cache.ExistsAsync("glob:xy"));

        Assert.Equal(1, await _cache.DeleteByPatternAsync("glob:" + RedisCache.EscapePattern(@"q\")));
        Assert.True(await _cache.ExistsAsync("glob:q"));
    }

    [Fact]
    public async Task KeysAsync_BadPatterns_AreRefusedBeforeAnythingIsSent()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await RedisTestHelpers.ToListAsync(_cache.KeysAsync(string.Concat(Enumerable.Repeat("a*", 40)) + "b")));
        await Assert.ThrowsAsync<ArgumentException>(async () => await RedisTestHelpers.ToListAsync(_cache.KeysAsync("a\r\nFLUSHALL")));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await RedisTestHelpers.ToListAsync(_cache.KeysAsync(null!)));
        await Assert.ThrowsAsync<ArgumentException>(async () => await _cache.DeleteByPatternAsync(string.Empty));
    }

    [Fact]
    public async Task KeysAsync_ManyKeysSmallPages_ListsEachOnce()
    {
        var keys = Enumerable.Range(0, 300).Select(i => $"page:{i}").ToList();
        await _cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 0)));
        var listed = await RedisTestHelpers.ToListAsync(_cache.KeysAsync("page:*", pageSize: 7));
        Assert.Equal(keys.Order(StringComparer.Ordinal), listed);
    }

    [Fact]
    public async Task SharedMultiplexer_IsNotClosedWhenTheCacheIsDisposed()
    {
        var shared = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        try
        {
            var cache = new RedisCache(shared, new RedisCacheOptions { KeyPrefix = _prefix });
            await cache.SetAsync("shared", 7);
            Assert.Same(shared, cache.Multiplexer);
            await cache.DisposeAsync();

            Assert.True(shared.IsConnected);
            Assert.NotNull((byte[]?)await shared.GetDatabase().StringGetAsync(_prefix + "shared"));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetAsync<int>("shared"));
        }
        finally
        {
            await shared.DisposeAsync();
        }
    }

    [Fact]
    public async Task OptionsConstructor_ConnectsInTheBackground_AndWorks()
    {
        await using var cache = new RedisCache(new RedisCacheOptions { ConnectionString = _server.ConnectionString, KeyPrefix = _prefix });
        await cache.SetAsync("lazy", "v");
        Assert.Equal("v", (await cache.GetAsync<string>("lazy")).Value);
        Assert.True((await cache.GetMultiplexerAsync()).IsConnected);
        Assert.NotNull(cache.Multiplexer);
    }

    [Fact]
    public async Task DeleteByPatternAsync_KeysOtherClientsWroteThatBreakTheKeyRules_RemovesThem_AndKeysAsyncSkipsThem()
    {
        // Another client's keys under the prefix that no TaiCache call can name: the prefix alone, a control character,
        // longer than MaxKeyBytes, bytes that are not UTF-8. KeysAsync listed them (as "", or a U+FFFD-mangled name that
        // is another key), and DeleteByPatternAsync("*") then threw InvalidCacheKeyException, deleting nothing.
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix + "foreign:");
        var prefix = Encoding.UTF8.GetBytes(_prefix + "foreign:");
        await cache.SetAsync("mine", 1);
        RedisKey[] foreign =
        [
            _prefix + "foreign:",
            _prefix + "foreign:a\nb",
            _prefix + "foreign:" + new string('x', 2000),
            (byte[])[.. prefix, 0xFF, (byte)'A'],
        ];
        foreach (var key in foreign)
        {
            await Raw.StringSetAsync(key, "other client");
        }

        Assert.Equal(["mine"], await RedisTestHelpers.ToListAsync(cache.KeysAsync("*")));
        Assert.Equal(5, await cache.DeleteByPatternAsync("*"));
        foreach (var key in foreign)
        {
            Assert.False(await Raw.KeyExistsAsync(key));
        }

        Assert.False(await cache.ExistsAsync("mine"));
    }

    [Fact]
    public async Task SetAsyncAndExpireAsync_TimeSpanMaxValue_StoreAValueThatLivesThatLong()
    {
        // Rounding TimeSpan.MaxValue up to whole milliseconds overflowed to a negative TTL: SetAsync threw a bare
        // ArgumentOutOfRangeException ("Parameter 'value'"), ExpireAsync a CacheException "refused by the server (ERR)".
        await _cache.SetAsync("max-ttl", "v", TimeSpan.MaxValue);
        Assert.Equal("v", (await _cache.GetAsync<string>("max-ttl")).Value);
        Assert.True((await _cache.TtlAsync("max-ttl")).Value > TimeSpan.FromDays(3650));

        await _cache.SetAsync("max-expire", "v");
        Assert.True(await _cache.ExpireAsync("max-expire", TimeSpan.MaxValue));
        Assert.True((await _cache.TtlAsync("max-expire")).Value > TimeSpan.FromDays(3650));
        Assert.True(await _cache.AddAsync("max-add", "v", TimeSpan.MaxValue));
        await _cache.SetManyAsync([new KeyValuePair<string, string>("max-many", "v")], TimeSpan.MaxValue);
        Assert.True((await _cache.TtlAsync("max-many")).Value > TimeSpan.FromDays(3650));
    }

    [Fact]
    public async Task Counters_AtThe64BitLimit_AreReportedAsSuch()
    {
        // Another client's integer past 64 bits was called "not a counter (a plain integer)", and an INCRBY past
        // long.MaxValue only "refused by the server (ERR)".
        await Raw.StringSetAsync(_prefix + "huge-counter", "99999999999999999999");
        var read = await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.GetCounterAsync("huge-counter"));
        Assert.Contains("64-bit", read.Message, StringComparison.Ordinal);
        Assert.Equal("huge-counter", read.Key);

        await Raw.StringSetAsync(_prefix + "max-counter", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var increment = await Assert.ThrowsAsync<CacheException>(async () => await _cache.IncrementAsync("max-counter"));
        Assert.Contains("64-bit", increment.Message, StringComparison.Ordinal);
        Assert.Equal(long.MaxValue, (await _cache.GetCounterAsync("max-counter")).Value);

        await Raw.StringSetAsync(_prefix + "text-counter", "abc");
        Assert.Contains("not a counter", (await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.GetCounterAsync("text-counter"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CanceledToken_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _cache.GetAsync<int>("k", cts.Token));
    }

    [Fact]
    public void Options_Validate_NamesTheBadOption()
    {
        Assert.Contains("OperationTimeout", Assert.ThrowsAny<ArgumentException>(() => new RedisCacheOptions { OperationTimeout = TimeSpan.Zero }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("KeyPrefix", Assert.ThrowsAny<ArgumentException>(() => new RedisCacheOptions { KeyPrefix = "a\nb" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("DefaultTtl", Assert.ThrowsAny<ArgumentException>(() => new RedisCacheOptions { DefaultTtl = TimeSpan.FromSeconds(-1) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("MaxKeyBytes", Assert.ThrowsAny<ArgumentException>(() => new RedisCacheOptions { MaxKeyBytes = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new RedisCache(new RedisCacheOptions()));
    }

    [Fact]
    public async Task MaxKeyBytes_IsEnforcedOnTheLogicalKey()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix, o => o.MaxKeyBytes = 16);
        await cache.SetAsync(new string('k', 16), 1);
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.SetAsync(new string('k', 17), 1));
    }

    [Fact]
    public void PhysicalKey_IsThePrefixedKey()
    {
        Assert.Equal(_prefix + "user:1", (string?)_cache.ToPhysicalKey("user:1"));
        Assert.Equal("user:1", _cache.ToLogicalKey(_prefix + "user:1"));
        Assert.Null(_cache.ToLogicalKey("someone-else:user:1"));
        Assert.Throws<InvalidCacheKeyException>(() => _cache.ToPhysicalKey(" "));
    }
}
