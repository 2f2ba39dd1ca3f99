using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>Edge cases of <see cref="RedisCache"/> against its docs, on a real single redis-server.</summary>
public sealed class RedisCacheEdgeCaseTests : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _server;
    private RedisCache _cache = null!;
    private string _prefix = string.Empty;

    public RedisCacheEdgeCaseTests(RedisServerFixture server) => _server = server;

    public async Task InitializeAsync()
    {
        _prefix = RedisTestHelpers.UniquePrefix(nameof(RedisCacheEdgeCaseTests), "run");
        _cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix);
    }

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private IDatabase Raw => _cache.Multiplexer.GetDatabase();


    [Fact]
    public async Task DecrementAsync_ByLongMinValue_IsRefusedAsOverflow_NotTurnedIntoAnIncrement()
    {
        // 5 - long.MinValue is past long.MaxValue; Redis's DECRBY refuses it ("decrement would
        // overflow"), so the counter stays 5 and the call throws the overflow CacheException the docs promise.
        const string key = "decr-min";
        await _cache.IncrementAsync(key, 5);

        var ex = await Record.ExceptionAsync(async () => await _cache.DecrementAsync(key, long.MinValue));

        var counter = await _cache.GetCounterAsync(key);
        Assert.Equal(5, counter.Value);
        Assert.IsType<CacheException>(ex);
    }

    [Fact]
    public async Task KeysAsync_EscapedLiteralWithMoreThan16Stars_IsMatchedLiterally_NotRefusedAsWildcards()
    {
        // The docs limit patterns to 16 '*' *wildcards*; an escaped '\*' is a literal, and EscapePattern is the
        // documented way to match a key literally (escaped ones were once counted as wildcards).
        var key = "stars:" + string.Concat(Enumerable.Repeat("*", 20));
        await _cache.SetAsync(key, 1);

        var listed = await RedisTestHelpers.ToListAsync(_cache.KeysAsync(RedisCache.EscapePattern(key)));

        Assert.Equal([key], listed);
    }

    [Fact]
    public async Task KeysAsync_EscapedLiteralOfAKeyAtMaxKeyBytes_IsMatched_NotRefusedAsTooLong()
    {
        // A key of exactly MaxKeyBytes is valid; escaping its one '?' makes the pattern one byte longer than the key,
        // and the key limit applies to the pattern without its escapes (the escaped length was once measured).
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix + "max:", o => o.MaxKeyBytes = 16);
        var key = "what?" + new string('k', 11); // 16 bytes
        await cache.SetAsync(key, 1);

        var listed = await RedisTestHelpers.ToListAsync(cache.KeysAsync(RedisCache.EscapePattern(key)));

        Assert.Equal([key], listed);
    }

    [Fact]
    public async Task ListLeftPopAsync_CancelledWhileThePopIsInFlight_DoesNotLoseTheItem()
    {
        // A queue consumer that gives up (shutdown token) must not lose a job: the LPOP is sent, the caller's token
        // fires before the reply, and the item popped anyway is put back (it was once dropped on the floor).
        const string key = "jobs-cancel";
        await _cache.ListRightPushAsync(key, "job-1");

        // Hold write commands on the server, so the LPOP is in flight when the token fires.
        await Raw.ExecuteAsync("CLIENT", "PAUSE", "1500", "WRITE");
        using var cts = new CancellationTokenSource();
        var pop = _cache.ListLeftPopAsync<string>(key, cts.Token).AsTask();
        await Task.Delay(200);
        await cts.CancelAsync();
        var outcome = await Record.ExceptionAsync(() => pop);
        await Raw.ExecuteAsync("CLIENT", "UNPAUSE");

        if (outcome is null)
        {
            Assert.Equal("job-1", (await pop).Value); // the caller got it: fine
            return;
        }

        Assert.IsAssignableFrom<OperationCanceledException>(outcome);
        long length = 0;
        for (var i = 0; i < 40 && length == 0; i++)
        {
            length = await _cache.ListLengthAsync(key); // ordered after the LPOP on the same connection
            if (length == 0)
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal(1, length);
    }

    [Fact]
    public async Task Sets_PlainNumericMembersFromAnotherClient_AreNotReadAsTaiCacheMembers()
    {
        // docs/redis.md: a set another client fills with plain strings is not TaiCache's; "reading the members throws
        // CacheSerializationException", plain numbers too (they were once read as counters, so SetMembersAsync listed 5
        // while SetContainsAsync(5) and SetRemoveAsync(5) said it was not there).
        const string key = "foreign-set";
        await Raw.SetAddAsync(_prefix + key, "5");

        Assert.False(await _cache.SetContainsAsync(key, 5L));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.SetMembersAsync<long>(key));
    }

    [Fact]
    public async Task ConnectAsync_TokenAlreadyCancelled_LeavesNoConnectionBehind()
    {
        // A cancelled ConnectAsync leaves no connection behind (the multiplexer it had started once stayed connected,
        // and would have kept reconnecting, for the life of the process).
        var name = "leak-" + Guid.NewGuid().ToString("N")[..12];
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await RedisCache.ConnectAsync(_server.ConnectionString + ",name=" + name, null, cts.Token));

        // Give the connect it started time to land; whatever it opened must then be gone within 3 s.
        await Task.Delay(1000);
        var leaked = true;
        for (var i = 0; i < 30 && leaked; i++)
        {
            await Task.Delay(100);
            var clients = (string?)await Raw.ExecuteAsync("CLIENT", "LIST") ?? string.Empty;
            leaked = clients.Contains("name=" + name + " ", StringComparison.Ordinal);
        }

        Assert.False(leaked, "a connection named by the cancelled ConnectAsync is open on the server");
    }

    [Fact]
    public async Task DisposedCache_EmptyBatches_ThrowObjectDisposed_AsEveryOtherCallAfterDisposal()
    {
        // docs/redis.md, Errors: "every call after" DisposeAsync throws ObjectDisposedException, an empty batch too
        // (they once returned before looking).
        var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix + "disposed:");
        await cache.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetManyAsync<int>([]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.SetManyAsync(Array.Empty<KeyValuePair<string, int>>()));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.DeleteManyAsync([]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.HashSetAsync("h", Array.Empty<KeyValuePair<string, int>>()));
    }

    // ---------------------------------------------------------------- pinned behaviour (passes)

    [Fact]
    public async Task SortedSets_InfiniteScores_RoundTrip_AndNaNIsRefusedBeforeSending()
    {
        const string key = "zinf";
        Assert.True(await _cache.SortedSetAddAsync(key, "top", double.PositiveInfinity));
        Assert.True(await _cache.SortedSetAddAsync(key, "bottom", double.NegativeInfinity));
        Assert.True(await _cache.SortedSetAddAsync(key, "mid", 0));

        Assert.Equal(double.PositiveInfinity, await _cache.SortedSetScoreAsync(key, "top"));
        Assert.Equal(["bottom", "mid", "top"], await _cache.SortedSetRangeAsync<string>(key));
        Assert.Equal(["top", "mid", "bottom"], await _cache.SortedSetRangeDescendingAsync<string>(key));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await _cache.SortedSetAddAsync(key, "nan", double.NaN));
        Assert.Equal(3, await _cache.SortedSetLengthAsync(key));
    }

    [Fact]
    public async Task CollectionOps_OnAKeyHoldingAnotherType_ThrowWrongType_AndChangeNothing()
    {
        const string key = "typed-string";
        await _cache.SetAsync(key, new OrderLine("a", 1, 1m), TimeSpan.FromMinutes(5));
        var before = (byte[]?)await Raw.StringGetAsync(_prefix + key);

        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.ListRightPushAsync(key, 1));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.HashSetAsync(key, "f", 1));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.SetAddAsync(key, 1));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.SortedSetAddAsync(key, 1, 1));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.IncrementAsync(key));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.ListLeftPopAsync<int>(key));

        Assert.Equal(before, (byte[]?)await Raw.StringGetAsync(_prefix + key));
        Assert.Equal("a", (await _cache.GetAsync<OrderLine>(key)).Value.Sku);
    }

    [Fact]
    public async Task Batches_WithOneBadKeyOrValue_SendNothing()
    {
        await using var cache = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, _prefix + "small:", o => o.Serialization = new TaiCache.Serialization.CacheSerializationOptions { MaxValueBytes = 1024 });
        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await cache.SetManyAsync([KeyValuePair.Create("ok-1", "x"), KeyValuePair.Create("big", new string('x', 4096))]));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.SetManyAsync([KeyValuePair.Create("ok-2", "x"), KeyValuePair.Create("bad\nkey", "y")]));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await cache.HashSetAsync("h", [KeyValuePair.Create("f1", 1), KeyValuePair.Create("bad\r", 2)]));
        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await cache.ListRightPushManyAsync("l", ["a", new string('x', 4096)]));

        Assert.False(await cache.ExistsAsync("ok-1"));
        Assert.False(await cache.ExistsAsync("ok-2"));
        Assert.False(await cache.ExistsAsync("h"));
        Assert.False(await cache.ExistsAsync("l"));
    }

    [Fact]
    public async Task KeysAsync_ManyKeysWhileOthersAreWritten_ListsEveryStableKeyOnce()
    {
        var stable = Enumerable.Range(0, 1500).Select(i => "scan:stable:" + i).ToList();
        await _cache.SetManyAsync(stable.Select(k => KeyValuePair.Create(k, 1)));
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                await _cache.SetAsync("scan:churn:" + n++, 1);
            }
        });

        var listed = new List<string>();
        await foreach (var key in _cache.KeysAsync("scan:*", pageSize: 50))
        {
            listed.Add(key);
        }

        await stop.CancelAsync();
        await writer;
        Assert.Equal(listed.Count, listed.Distinct(StringComparer.Ordinal).Count());
        Assert.Empty(stable.Except(listed, StringComparer.Ordinal));
    }

    [Fact]
    public async Task DisposedCache_ThrowsObjectDisposed_AndLeavesABorrowedMultiplexerWorking()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        try
        {
            var cache = new RedisCache(multiplexer, new RedisCacheOptions { KeyPrefix = _prefix + "borrowed:" });
            await cache.SetAsync("k", 1);
            await cache.DisposeAsync();

            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetAsync<int>("k"));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.ListRightPushAsync("l", 1));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.DeleteByPatternAsync("*"));
            Assert.True(multiplexer.IsConnected);
            Assert.True(await multiplexer.GetDatabase().KeyExistsAsync(_prefix + "borrowed:k"));
        }
        finally
        {
            await multiplexer.DisposeAsync();
        }
    }

    [Fact]
    public async Task ExpireAsync_OnACompressedValue_KeepsItReadable_AndRecordsTheNewExpiry()
    {
        var big = new string('a', 5000); // over the 1 KiB compression threshold
        await _cache.SetAsync("big-plain", big);
        await _cache.SetAsync("big-ttl", big, TimeSpan.FromMinutes(1));

        Assert.True(await _cache.ExpireAsync("big-plain", TimeSpan.FromMinutes(30)));
        Assert.True(await _cache.ExpireAsync("big-ttl", TimeSpan.FromMinutes(30)));

        foreach (var key in new[] { "big-plain", "big-ttl" })
        {
            var hit = await _cache.GetAsync<string>(key);
            Assert.Equal(big, hit.Value);
            Assert.NotNull(hit.ExpiresAt);
            Assert.InRange(hit.ExpiresAt!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(31));
        }
    }

    [Fact]
    public async Task ListPush_OnAListWithATtl_KeepsTheTtl()
    {
        await _cache.ListRightPushAsync("ttl-list", 1);
        Assert.True(await _cache.ExpireAsync("ttl-list", TimeSpan.FromMinutes(5)));
        await _cache.ListRightPushAsync("ttl-list", 2);
        await _cache.HashSetAsync("ttl-hash", "a", 1);
        Assert.True(await _cache.ExpireAsync("ttl-hash", TimeSpan.FromMinutes(5)));
        await _cache.HashSetAsync("ttl-hash", "b", 2);

        Assert.InRange((await _cache.TtlAsync("ttl-list")).Value!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        Assert.InRange((await _cache.TtlAsync("ttl-hash")).Value!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task ForeignPlainValues_ReadAsSerializationErrors_NeverGarbage()
    {
        await Raw.StringSetAsync(_prefix + "json", "{\"name\":\"Ada\"}");
        await Raw.StringSetAsync(_prefix + "text", "hello world");
        await Raw.StringSetAsync(_prefix + "empty", string.Empty);

        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<OrderLine>("json"));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<string>("text"));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<string>("empty"));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetManyAsync<string>(["text"]));
    }
}
