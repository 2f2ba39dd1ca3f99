using System.Text;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>Edge cases of <see cref="MemcachedCache"/> against its documented behaviour, on a real memcached.</summary>
public sealed class MemcachedCacheEdgeCaseTests : IClassFixture<MemcachedServerFixture>, IAsyncLifetime
{
    // memcached's clock is 32-bit: no item outlives this (docs/memcached.md, "expiries are capped at 2038-01-19").
    private static readonly DateTimeOffset MemcachedEndOfTime = DateTimeOffset.FromUnixTimeSeconds(int.MaxValue);

    private readonly MemcachedServerFixture _fixture;
    private readonly MemcachedCache _cache;

    public MemcachedCacheEdgeCaseTests(MemcachedServerFixture fixture)
    {
        _fixture = fixture;
        _cache = new MemcachedCache(fixture.Options());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private static string Key(string test) => $"{nameof(MemcachedCacheEdgeCaseTests)}:{test}:{Guid.NewGuid():N}";

    private MemcachedRawClient Raw() => new(_fixture.Server.Host, _fixture.Server.Port);

    private static int RemainingTtl(MemcachedRawClient raw, string wireKey)
    {
        var line = raw.Meta($"mg {wireKey} t");
        Assert.StartsWith("HD", line, StringComparison.Ordinal);
        var t = line.Split(' ').Single(p => p.StartsWith('t'));
        return int.Parse(t[1..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task OperationTimeout_BeyondTimerRange_IsRejectedByValidateOrWorks()
    {
        // A System.Threading timer takes at most ~49.7 days: 60 days is refused by Validate, naming the option (it once
        // passed, and every call then threw a bare ArgumentOutOfRangeException).
        var options = _fixture.Options(o => o.OperationTimeout = TimeSpan.FromDays(60));
        var construct = Record.Exception(() => new MemcachedCache(options).DisposeAsync().AsTask().GetAwaiter().GetResult());
        if (construct is not null)
        {
            Assert.IsType<ArgumentException>(construct);
            return;
        }

        await using var cache = new MemcachedCache(options);
        var key = Key(nameof(OperationTimeout_BeyondTimerRange_IsRejectedByValidateOrWorks));
        await cache.SetAsync(key, "v");
        Assert.Equal("v", (await cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task ConnectTimeout_BeyondTimerRange_IsRejectedByValidateOrWorks()
    {
        var options = _fixture.Options(o => o.ConnectTimeout = TimeSpan.FromDays(60));
        var construct = Record.Exception(() => new MemcachedCache(options).DisposeAsync().AsTask().GetAwaiter().GetResult());
        if (construct is not null)
        {
            Assert.IsType<ArgumentException>(construct);
            return;
        }

        await using var cache = new MemcachedCache(options);
        var key = Key(nameof(ConnectTimeout_BeyondTimerRange_IsRejectedByValidateOrWorks));
        await cache.SetAsync(key, "v");
        Assert.Equal("v", (await cache.GetAsync<string>(key)).Value);
    }

    /// <summary>Whether building a cache on the options is refused with an <see cref="ArgumentException"/> on
    /// <see cref="MemcachedCacheOptions.Servers"/> naming the fixture's server (any other exception fails the test).</summary>
    private bool RefusedNamingTheServer(MemcachedCacheOptions options)
    {
        var construct = Record.Exception(() => new MemcachedCache(options).DisposeAsync().AsTask().GetAwaiter().GetResult());
        if (construct is null)
        {
            return false;
        }

        var ex = Assert.IsType<ArgumentException>(construct);
        Assert.Equal(nameof(MemcachedCacheOptions.Servers), ex.ParamName);
        Assert.Contains(_fixture.Server.ToString(), ex.Message, StringComparison.Ordinal);
        return true;
    }

    [Fact]
    public async Task Servers_SameServerListedTwice_IsRejectedByValidateOrCountedOnce()
    {
        // A server listed twice got two nodes: the statistics summed it twice, FlushAsync flushed it twice, and under
        // Redistribute a down node's keys went on to its twin, the same dead server.
        var options = _fixture.Options(o => o.Servers.Add(new MemcachedServer(_fixture.Server.Host, _fixture.Server.Port, weight: 2)));
        if (RefusedNamingTheServer(options))
        {
            return;
        }

        await using var twice = new MemcachedCache(options);
        var key = Key(nameof(Servers_SameServerListedTwice_IsRejectedByValidateOrCountedOnce));
        await _cache.SetAsync(key, "v");
        var once = await _cache.GetStatisticsAsync();
        var stats = await twice.GetStatisticsAsync();
        Assert.InRange(stats.LimitMaxBytes, once.LimitMaxBytes, once.LimitMaxBytes);
    }

    [Fact]
    public async Task Servers_WeightLeavingAServerNoPointOnTheRing_IsRejectedByValidateOrItServes()
    {
        // Ketama gives a server floor(weight / total * 40 * servers) * 4 points: weight 1 beside 100 is none, so that server
        // never got a key, and under Redistribute, with the heavy server down, every call failed with "every memcached
        // node is marked down" although the light one was up.
        var dead = FreePort.Next();
        var options = _fixture.Options(o =>
        {
            o.Servers.Add(new MemcachedServer("127.0.0.1", dead, weight: 100));
            o.FailoverPolicy = MemcachedFailoverPolicy.Redistribute;
        });
        if (RefusedNamingTheServer(options))
        {
            return;
        }

        await using var cache = new MemcachedCache(options);
        var key = Key(nameof(Servers_WeightLeavingAServerNoPointOnTheRing_IsRejectedByValidateOrItServes));
        await _cache.SetAsync(key, "v");
        Assert.Equal("v", (await cache.GetAsync<string>(key)).Value); // the heavy server is found dead: the key moves on
    }

    [Fact]
    public async Task GetAndTouchAsync_TtlPast2038_ReportsNoLaterExpiryThanTheServerKeeps()
    {
        var key = Key(nameof(GetAndTouchAsync_TtlPast2038_ReportsNoLaterExpiryThanTheServerKeeps));
        await _cache.SetAsync(key, "v", TimeSpan.FromMinutes(5));
        var hit = await _cache.GetAndTouchAsync<string>(key, TimeSpan.FromDays(365 * 100));
        Assert.True(hit.HasValue);
        Assert.NotNull(hit.ExpiresAt);
        Assert.True(hit.ExpiresAt <= MemcachedEndOfTime, $"reported {hit.ExpiresAt:O}; memcached drops the item by {MemcachedEndOfTime:O}");

        // A plain get of the same item reports the server's cap.
        var read = await _cache.GetAsync<string>(key);
        Assert.True(read.ExpiresAt <= MemcachedEndOfTime, $"get reported {read.ExpiresAt:O}");
    }

    [Fact]
    public async Task GetAndTouchAsync_TimeSpanMaxValue_ResultExpiresAtIsReadable()
    {
        var key = Key(nameof(GetAndTouchAsync_TimeSpanMaxValue_ResultExpiresAtIsReadable));
        await _cache.SetAsync(key, "v");
        var hit = await _cache.GetAndTouchAsync<string>(key, TimeSpan.MaxValue); // a valid TTL: positive, not infinite
        Assert.True(hit.HasValue);
        var expiresAt = Record.Exception(() => hit.ExpiresAt);
        Assert.Null(expiresAt);
    }

    [Fact]
    public async Task GetAndTouchAsync_ForeignItem_FailsWithoutChangingItsTtl()
    {
        var key = Key(nameof(GetAndTouchAsync_ForeignItem_FailsWithoutChangingItsTtl));
        using var raw = Raw();
        raw.Set(key, 7, "other client's bytes"u8.ToArray(), exptime: 100);
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAndTouchAsync<string>(key, TimeSpan.FromHours(10)));
        Assert.InRange(RemainingTtl(raw, key), 90, 101); // a call that failed to read the item left it as it was
    }

    // ---- behaviour kept ----

    [Fact]
    public async Task Key_AtLimitWithMultiByteKeyPrefix_IsStoredAndOneByteMoreIsRejected()
    {
        await using var cache = new MemcachedCache(_fixture.Options(o => o.KeyPrefix = "ü€:")); // 6 UTF-8 bytes
        var head = $"{Guid.NewGuid():N}:";
        var atLimit = head + new string('k', 250 - 6 - head.Length);
        await cache.SetAsync(atLimit, "v");
        Assert.Equal("v", (await cache.GetAsync<string>(atLimit)).Value);
        Assert.Throws<InvalidCacheKeyException>(() => cache.GetAsync<string>(atLimit + "k").AsTask().GetAwaiter().GetResult());
        Assert.Equal("v", (await _cache.GetAsync<string>("ü€:" + atLimit)).Value); // the same item without the prefix option

        await using var hashing = new MemcachedCache(_fixture.Options(o => { o.KeyPrefix = "ü€:"; o.HashLongKeys = true; }));
        Assert.Equal("v", (await hashing.GetAsync<string>(atLimit)).Value); // at the limit: not hashed
        await hashing.SetAsync(atLimit + "k", "w");
        Assert.Equal("w", (await hashing.GetAsync<string>(atLimit + "k")).Value);
        Assert.Equal("v", (await hashing.GetAsync<string>(atLimit)).Value);
    }

    [Fact]
    public async Task Ttl_ThirtyDaysBoundary_RelativeBelowAndAbsoluteFrom()
    {
        using var raw = Raw();
        var below = Key("below");
        await _cache.SetAsync(below, "v", TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1));
        Assert.InRange(RemainingTtl(raw, below), 2_591_990, 2_592_000);

        var exactly = Key("exactly");
        await _cache.SetAsync(exactly, "v", TimeSpan.FromDays(30));
        Assert.InRange(RemainingTtl(raw, exactly), 2_591_990, 2_592_002);
        Assert.True((await _cache.GetAsync<string>(exactly)).HasValue);

        var max = Key("max");
        await _cache.SetAsync(max, "v", TimeSpan.MaxValue);
        Assert.True((await _cache.GetAsync<string>(max)).HasValue);
        Assert.True(RemainingTtl(raw, max) > 0);
    }

    [Fact]
    public async Task ForeignPlainTextValue_ReadsAsClearSerializationError()
    {
        var key = Key(nameof(ForeignPlainTextValue_ReadsAsClearSerializationError));
        using (var raw = Raw())
        {
            raw.Set(key, 0, "hello world"u8.ToArray());
        }

        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<string>(key));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetAsync<byte[]>(key));
        await Assert.ThrowsAsync<CacheSerializationException>(async () => await _cache.GetManyAsync<string>([key]));
        await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await _cache.IncrementAsync(key));
        Assert.True(await _cache.ExistsAsync(key));
        await _cache.SetAsync(key, "mine");
        Assert.Equal("mine", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task Counter_WrapsAtUInt64AndStopsAtZero()
    {
        var key = Key(nameof(Counter_WrapsAtUInt64AndStopsAtZero));
        Assert.Equal(ulong.MaxValue, await _cache.IncrementAsync(key, 1, initialValue: ulong.MaxValue));
        Assert.Equal(0UL, await _cache.IncrementAsync(key, 1));
        Assert.Equal(0UL, await _cache.DecrementAsync(key, 5));
    }

    [Fact]
    public async Task CompareAndSwapAsync_AfterAnotherWriter_ReturnsFalseAndKeepsTheirValue()
    {
        var key = Key(nameof(CompareAndSwapAsync_AfterAnotherWriter_ReturnsFalseAndKeepsTheirValue));
        await _cache.SetAsync(key, "a");
        var read = await _cache.GetWithCasAsync<string>(key);
        await using (var other = new MemcachedCache(_fixture.Options()))
        {
            await other.SetAsync(key, "b");
        }

        Assert.False(await _cache.CompareAndSwapAsync(key, "c", read.Cas));
        Assert.Equal("b", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task IncrementAsync_TtlOverThirtyDays_CounterExpiresInThatTtl()
    {
        var key = Key(nameof(IncrementAsync_TtlOverThirtyDays_CounterExpiresInThatTtl));
        await _cache.IncrementAsync(key, 1, initialValue: 5, ttl: TimeSpan.FromDays(60));
        using var raw = Raw();
        Assert.InRange(RemainingTtl(raw, key), 5_183_990, 5_184_002);
    }

    [Fact]
    public async Task FlushAsync_ThenAddAndGet()
    {
        await using var cache = new MemcachedCache(_fixture.Options());
        var key = Key(nameof(FlushAsync_ThenAddAndGet));
        await cache.SetAsync(key, "old");
        await cache.FlushAsync();
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
        Assert.True(await cache.AddAsync(key, "new"));
        Assert.Equal("new", (await cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task SetManyAsync_OneValueTooLarge_StoresNothing()
    {
        var a = Key("small");
        var b = Key("large");
        var ex = await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await _cache.SetManyAsync<byte[]>([new(a, [1, 2, 3]), new(b, RandomBytes(1024 * 1024))]));
        Assert.Equal(b, ex.Key);
        Assert.Empty(await _cache.GetManyAsync<byte[]>([a, b]));
    }

    [Fact]
    public async Task ConcurrentCallsWithRandomCancellation_NeverReadAnotherCallsAnswer()
    {
        await using var proxy = new TcpFaultProxy(_fixture.Server.Port);
        var o = _fixture.Options(x => { x.MaxConnectionsPerNode = 4; x.PoolTimeout = TimeSpan.FromSeconds(30); x.FailureThreshold = 100_000; });
        o.Servers.Clear();
        o.Servers.Add(new MemcachedServer("127.0.0.1", proxy.Port));
        await using var cache = new MemcachedCache(o);
        var prefix = Key("cancel");
        await cache.SetManyAsync(Enumerable.Range(0, 100).Select(i => new KeyValuePair<string, int>($"{prefix}:{i}", i)));
        proxy.Latency = TimeSpan.FromMilliseconds(3);
        var random = new Random(42);
        var delays = Enumerable.Range(0, 400).Select(_ => random.Next(0, 15)).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 400).Select(async n =>
        {
            var i = n % 100;
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(delays[n]));
            try
            {
                var got = n % 3 == 0
                    ? (await cache.GetManyAsync<int>([$"{prefix}:{i}", $"{prefix}:{(i + 1) % 100}"], cts.Token))[$"{prefix}:{i}"]
                    : (await cache.GetAsync<int>($"{prefix}:{i}", cts.Token)).Value;
                Assert.Equal(i, got);
            }
            catch (OperationCanceledException)
            {
            }
        }));
        proxy.Latency = TimeSpan.Zero;
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(i, (await cache.GetAsync<int>($"{prefix}:{i}")).Value);
        }
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(n).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task Batches_EmptyAndDuplicateKeys()
    {
        var a = Key("a");
        var b = Key("b");
        Assert.Empty(await _cache.GetManyAsync<string>([]));
        await _cache.SetManyAsync<string>([]);
        Assert.Equal(0, await _cache.DeleteManyAsync([]));
        await _cache.SetManyAsync<string>([new(a, "1"), new(b, "2"), new(a, "3")]);
        var got = await _cache.GetManyAsync<string>([a, b, a]);
        Assert.Equal(2, got.Count);
        Assert.Equal("3", got[a]);
        Assert.Equal(2, await _cache.DeleteManyAsync([a, a, b]));
    }

    [Fact]
    public async Task ManyConcurrentCallsOnASmallPool_EachGetsItsOwnValueAndPoolStaysBounded()
    {
        await using var cache = new MemcachedCache(_fixture.Options(o => { o.MaxConnectionsPerNode = 3; o.PoolTimeout = TimeSpan.FromSeconds(30); }));
        var prefix = Key("conc");
        await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            await cache.SetAsync($"{prefix}:{i}", i);
            Assert.Equal(i, (await cache.GetAsync<int>($"{prefix}:{i}")).Value);
            Assert.InRange(cache.OpenConnectionCount, 0, 3);
        }));
        Assert.InRange(cache.OpenConnectionCount, 1, 3);
    }

    [Fact]
    public async Task StallTimeoutAndCancellation_ConnectionDiscarded_NextCallsReadTheirOwnAnswers()
    {
        await using var proxy = new TcpFaultProxy(_fixture.Server.Port);
        var o = _fixture.Options(x => { x.OperationTimeout = TimeSpan.FromMilliseconds(300); x.FailureThreshold = 1000; x.MaxConnectionsPerNode = 1; });
        o.Servers.Clear();
        o.Servers.Add(new MemcachedServer("127.0.0.1", proxy.Port));
        await using var cache = new MemcachedCache(o);
        var slow = Key("slow");
        var fast = Key("fast");
        // The calls that must succeed are retried on a timeout only (300 ms through the proxy, a new connection each time
        // after a discard, on a loaded machine): a late answer read as the next call's would still fail the test.
        static async Task Answered(Func<Task> call)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await call();
                    return;
                }
                catch (CacheTimeoutException) when (attempt < 5)
                {
                }
            }
        }

        await Answered(async () => await cache.SetAsync(slow, "slow-value"));
        await Answered(async () => await cache.SetAsync(fast, "fast-value"));

        proxy.Latency = TimeSpan.FromMilliseconds(900); // the answer arrives after the stall timeout
        await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>(slow));
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
        {
            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.GetAsync<string>(slow, cts.Token));
            Assert.Equal(cts.Token, ex.CancellationToken);
        }

        proxy.Latency = TimeSpan.Zero;
        await Task.Delay(1200); // the late answers have arrived on the discarded connections
        string? fastRead = null;
        string? slowRead = null;
        await Answered(async () => fastRead = (await cache.GetAsync<string>(fast)).Value);
        await Answered(async () => slowRead = (await cache.GetAsync<string>(slow)).Value);
        Assert.Equal("fast-value", fastRead);
        Assert.Equal("slow-value", slowRead);
        Assert.Equal(1, cache.OpenConnectionCount);
    }

    [Fact]
    public async Task DisposeAsync_WithCallsWaitingForThePool_LeavesNoOpenConnection()
    {
        await using var proxy = new TcpFaultProxy(_fixture.Server.Port);
        var o = _fixture.Options(x => { x.MaxConnectionsPerNode = 1; x.PoolTimeout = TimeSpan.FromSeconds(10); });
        o.Servers.Clear();
        o.Servers.Add(new MemcachedServer("127.0.0.1", proxy.Port));
        var cache = new MemcachedCache(o);
        var key = Key("dispose");
        await cache.SetAsync(key, "v");
        proxy.Latency = TimeSpan.FromMilliseconds(500);
        var calls = Enumerable.Range(0, 4).Select(_ => cache.GetAsync<string>(key).AsTask()).ToArray();
        await Task.Delay(100);
        await cache.DisposeAsync();
        foreach (var call in calls)
        {
            try
            {
                await call;
            }
            catch (ObjectDisposedException)
            {
            }
            catch (CacheException)
            {
            }
        }

        Assert.Equal(0, cache.OpenConnectionCount);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetAsync<string>(key));
    }
}

/// <summary>Edge cases of <see cref="MemcachedCache"/> over three real memcached processes.</summary>
public sealed class MemcachedCacheEdgeCaseClusterTests : IClassFixture<MemcachedClusterFixture>
{
    private readonly MemcachedClusterFixture _cluster;

    public MemcachedCacheEdgeCaseClusterTests(MemcachedClusterFixture cluster) => _cluster = cluster;

    private static string Key(string test, int i) => $"{nameof(MemcachedCacheEdgeCaseClusterTests)}:{test}:{i}:{Guid.NewGuid():N}";

    [Fact]
    public async Task FailFast_BatchesWithOneNodeKilled_FailTypedAsPartialOutage_AndRecoverAfterRestart()
    {
        await using var cache = new MemcachedCache(_cluster.Options(o =>
        {
            o.DeadNodeRetryInterval = TimeSpan.FromMilliseconds(100);
            o.MaxDeadNodeRetryInterval = TimeSpan.FromMilliseconds(200);
        }));
        var keys = Enumerable.Range(0, 60).Select(i => Key("failfast", i)).ToList();
        await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k)));
        var dead = _cluster.Servers[1];
        var live = keys.Where(k => cache.GetServerForKey(k).Port != dead.Port).ToList();
        _cluster.Kill(1);
        try
        {
            var get = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetManyAsync<string>(keys));
            Assert.True(get.IsPartialOutage, get.Message);
            var set = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k))));
            Assert.True(set.IsPartialOutage, set.Message);
            Assert.Equal(live.Count, (await cache.GetManyAsync<string>(live)).Count);
        }
        finally
        {
            await _cluster.RestartAsync(1);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k + "!")));
                break;
            }
            catch (CacheConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        var all = await cache.GetManyAsync<string>(keys);
        Assert.Equal(keys.Count, all.Count);
        Assert.All(keys, k => Assert.Equal(k + "!", all[k]));
    }
}
