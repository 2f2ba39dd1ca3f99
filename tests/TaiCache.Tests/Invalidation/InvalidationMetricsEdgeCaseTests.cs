using System.Text.RegularExpressions;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Invalidation;
using TaiCache.Metrics;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Redis;

namespace TaiCache.Tests.Invalidation;

/// <summary>
/// Edge cases of the invalidation and metrics modules, each a promise of the XML docs or docs/*.md: real Redis through
/// the shared fixture, a fake clock, a MeterListener.
/// </summary>
public sealed class InvalidationMetricsEdgeCaseTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _redis;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public InvalidationMetricsEdgeCaseTests(RedisServerFixture redis) => _redis = redis;

    private static string Unique(string test) => $"{nameof(InvalidationMetricsEdgeCaseTests)}:{test}:{Guid.NewGuid():N}";

    // ---------------------------------------------------------------- metrics

    [Fact]
    public void Percentile_P999_OfExactlyOneThousandSamples_IsTheNearestRankValue_NotTheMax()
    {
        // Nearest rank: ceil(0.999 * 1000) = 999, the 999th smallest value (10 us). 99.9 / 100.0 * 1000 is
        // 999.0000000000001 in doubles, which once made the rank 1000 and the p99.9 the single 1 s outlier.
        using var collector = new MetricsCollector(Unique("p999"), "redis", null, new MetricsCollectorOptions { PublishToMeter = false });
        for (var i = 0; i < 999; i++)
        {
            collector.RecordHit(TimeSpan.FromMicroseconds(10));
        }

        collector.RecordHit(TimeSpan.FromSeconds(1));

        var hit = collector.GetSnapshot().HitLatency;
        Assert.Equal(1000, hit.Count);
        Assert.InRange(hit.P999Microseconds, 10 * (1 - LatencyDistribution.RelativeError), 10 * (1 + LatencyDistribution.RelativeError));

        // The SLO verdict follows: p99.9 of hits is 10 us, the target 100 us.
        var result = new SloChecker(new SloTargets { LatencyPercentile = 99.9, MinHitRate = null, MaxMissRate = null, MaxEvictionRate = null }).Check(collector);
        Assert.True(result.Get(SloObjective.HitLatency)!.IsMet, result.ToString());
    }

    [Fact]
    public void Percentile_P7_OfOneHundredSamples_IsTheSeventhValue()
    {
        // Same rounding: 7 / 100.0 * 100 = 7.000000000000001, rank 8. Values 1..100 us: p7 must be 7 us, not 8 us.
        using var collector = new MetricsCollector(Unique("p7"), "redis", null, new MetricsCollectorOptions { PublishToMeter = false });
        for (var i = 1; i <= 100; i++)
        {
            collector.RecordHit(TimeSpan.FromMicroseconds(i));
        }

        var p7 = collector.GetSnapshot().HitLatency.GetPercentileMicroseconds(7);
        Assert.InRange(p7, 7 * (1 - LatencyDistribution.RelativeError), 7 * (1 + LatencyDistribution.RelativeError));
    }

    [Fact]
    public void DurationHistogram_DisposedCollector_IsNoLongerReported()
    {
        // docs/metrics.md: "A collector built with PublishToMeter = false, disposed, or garbage-collected is no longer
        // reported." The duration histogram too (it once kept recording after Dispose).
        var name = Unique("disposed-duration");
        using var duration = new MetricCollector<double>(null, TaiCacheTelemetry.MeterName, TaiCacheTelemetry.DurationInstrument);
        var collector = new MetricsCollector(name, "redis");
        collector.RecordHit(TimeSpan.FromMicroseconds(100));
        Assert.Single(duration.GetMeasurementSnapshot(), m => Equals(m.Tags[TaiCacheTelemetry.CacheNameTag], name));

        collector.Dispose();
        collector.RecordHit(TimeSpan.FromMicroseconds(200));
        collector.RecordMiss(TimeSpan.FromMicroseconds(300));

        Assert.Single(duration.GetMeasurementSnapshot(), m => Equals(m.Tags[TaiCacheTelemetry.CacheNameTag], name));
        Assert.Equal(2, collector.GetSnapshot().HitLatency.Count); // recording itself keeps working
    }

    [Fact]
    public void Slo_NoReadsAtAll_JudgesNothing_AndRatesAreZeroNotNaN()
    {
        // an empty window judges nothing, no division by zero.
        using var collector = new MetricsCollector(Unique("empty"), "L1", _time, new MetricsCollectorOptions { PublishToMeter = false });
        var result = new SloChecker(new SloTargets { MinimumRequests = 0 }).Check(collector);
        Assert.Empty(result.Measurements);
        Assert.True(result.IsMet);
        Assert.Equal(0, result.Metrics.HitRate);
        Assert.Equal(0, result.Metrics.HitLatency.P99Microseconds);
        Assert.Equal(0, result.Metrics.OperationsPerSecond);
    }

    [Fact]
    public void Slo_RatesExactlyAtTheThresholds_AreMet()
    {
        // 80 hits of 100 reads meets ">= 80%", 20 misses meets "<= 20%".
        using var collector = new MetricsCollector(Unique("boundary"), "L1", _time, new MetricsCollectorOptions { PublishToMeter = false });
        for (var i = 0; i < 80; i++)
        {
            collector.RecordHit();
        }

        for (var i = 0; i < 20; i++)
        {
            collector.RecordMiss();
        }

        var result = new SloChecker().Check(collector);
        Assert.True(result.Get(SloObjective.HitRate)!.IsMet);
        Assert.True(result.Get(SloObjective.MissRate)!.IsMet);
    }

    [Fact]
    public void TimeSeries_OnFakeClock_WindowCoversExactlyTheLastIntervals()
    {
        // Start() snapshots now and every interval on the collector's TimeProvider.
        using var collector = new MetricsCollector(Unique("series"), "L1", _time, new MetricsCollectorOptions { PublishToMeter = false });
        using var series = new TimeSeriesMetrics(collector, TimeSpan.FromSeconds(10), capacity: 10);
        series.Start();
        Assert.Equal(1, series.Count);
        collector.RecordHit();
        _time.Advance(TimeSpan.FromSeconds(10));
        collector.RecordMiss();
        collector.RecordMiss();
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(3, series.Count);
        Assert.Equal([1.0, 0.0], series.GetHitRates(2));
        var window = series.GetWindow(1)!;
        Assert.Equal(0, window.Hits);
        Assert.Equal(2, window.Misses);
        Assert.Equal(TimeSpan.FromSeconds(10), window.Uptime);
    }

    // ---------------------------------------------------------------- patterns

    [Fact]
    public void SafeGlob_FormatSpecifierInAHole_IsApplied_BeforeEscaping()
    {
        // $"order:{id:D5}:*" names "order:00042:*" everywhere else in C#, and in SafeGlob too: the hole's format
        // specifier is applied before escaping (it was once dropped, and the glob selected another order's keys).
        var pattern = CacheKeyPattern.SafeGlob($"order:{42:D5}:*");
        Assert.Equal("order:00042:*", pattern.Pattern);
        Assert.True(pattern.IsMatch("order:00042:lines"));
        Assert.False(pattern.IsMatch("order:42:lines"));
    }

    [Fact]
    public async Task SafeGlob_DateHoleWithFormat_SelectsTheKeysWrittenWithThatFormat()
    {
        var day = new DateTime(2026, 3, 4);
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", TimeProvider = _time });
        await using var manager = new InvalidationManager([l1], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.SetAsync($"report:{day:yyyy-MM-dd}:sales", 1);

        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.SafeGlob($"report:{day:yyyy-MM-dd}:*"));

        Assert.Equal(["report:2026-03-04:sales"], receipt.AffectedKeys);
        Assert.False(l1.TryGet<int>("report:2026-03-04:sales", out _));
    }

    [Fact]
    public async Task RegexPattern_IgnorePatternWhitespaceComment_StillFindsRedisOnlyKeys()
    {
        // With IgnorePatternWhitespace, '#' starts a comment: "^user#tenant" is the regex "^user", so the SCAN glob must
        // not be "user#tenant*" (keys only Redis holds were then never listed).
        var prefix = RedisTestHelpers.UniquePrefix(nameof(InvalidationMetricsEdgeCaseTests));
        await using var cache = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, prefix);
        await using var manager = new InvalidationManager([cache]);
        try
        {
            await cache.SetAsync("user:1", "written by another process");
            var pattern = CacheKeyPattern.Regex("^user#tenant", options: RegexOptions.IgnorePatternWhitespace);
            Assert.True(pattern.IsMatch("user:1"));

            Assert.Equal(["user:1"], await manager.FindKeysAsync(pattern));
        }
        finally
        {
            await cache.DeleteByPatternAsync("*");
        }
    }

    [Fact]
    public async Task PatternInvalidation_KeysWithSpacesUnicodeAndGlobCharacters_OnlyTheLiteralIsRemoved()
    {
        // Prefix() escapes * ? [ ] \ ^ -, on L1 (tracked) and Redis (SCAN) alike.
        var prefix = RedisTestHelpers.UniquePrefix(nameof(InvalidationMetricsEdgeCaseTests));
        await using var cache = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, prefix);
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1" });
        await using var manager = new InvalidationManager([l1, cache]);
        try
        {
            await manager.SetAsync("t:a*[1] é:x", 1);
            await manager.SetAsync("t:ab[1] é:x", 2);
            await manager.SetAsync("t:a1 é:x", 3);
            await cache.SetAsync("t:a*[1] é:redis-only", 4);

            var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("t:a*[1] é:"));

            Assert.Equal(["t:a*[1] é:redis-only", "t:a*[1] é:x"], receipt.AffectedKeys.Order(StringComparer.Ordinal));
            Assert.True(await cache.ExistsAsync("t:ab[1] é:x"));
            Assert.True(l1.TryGet<int>("t:a1 é:x", out _));
            Assert.Empty((await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("nothing-matches:"))).Keys);
        }
        finally
        {
            await cache.DeleteByPatternAsync("*");
        }
    }

    // ---------------------------------------------------------------- tags and cancellation

    [Fact]
    public async Task InvalidateTagAsync_CancelledBeforeAnythingIsRemoved_LeavesTheTagIntact_InProcess()
    {
        // docs/invalidation.md: caller cancellation propagates until the tiers are being changed. A cancelled call
        // removes nothing and leaves the tag's memberships in place (they were once taken, and the value stayed cached
        // with no tag left to reach it).
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", TimeProvider = _time });
        await using var manager = new InvalidationManager([l1], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.SetAsync("product:1", "v1", TimeSpan.FromHours(1), tags: ["catalog"]);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await manager.InvalidateTagAsync("catalog", cts.Token));

        Assert.True(l1.TryGet<string>("product:1", out _)); // nothing was removed...
        Assert.Equal(["product:1"], await manager.GetTaggedKeysAsync("catalog")); // ...so the tag must still hold it
        var retry = await manager.InvalidateTagAsync("catalog");
        Assert.Equal(["product:1"], retry.AffectedKeys);
    }

    [Fact]
    public async Task InvalidateTagAsync_CancelledBeforeAnythingIsRemoved_LeavesTheTagIntact_Redis()
    {
        var prefix = RedisTestHelpers.UniquePrefix(nameof(InvalidationMetricsEdgeCaseTests));
        await using var cache = await RedisTestHelpers.ConnectAsync(_redis.ConnectionString, prefix);
        await using var manager = new InvalidationManager([cache], new InvalidationManagerOptions { Redis = cache.Multiplexer, RedisKeyPrefix = prefix + "inv:" });
        try
        {
            await manager.SetAsync("product:1", "v1", TimeSpan.FromHours(1), tags: ["catalog"]);
            using var cts = new CancellationTokenSource();
            await cts.CancelAsync();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await manager.InvalidateTagAsync("catalog", cts.Token));

            Assert.True(await cache.ExistsAsync("product:1"));
            Assert.Equal(["product:1"], await manager.GetTaggedKeysAsync("catalog"));
        }
        finally
        {
            await cache.DeleteByPatternAsync("*");
        }
    }

    [Fact]
    public async Task RaiseEventAsync_WithTagTarget_Cancelled_LeavesTheTagIntact()
    {
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", TimeProvider = _time });
        await using var manager = new InvalidationManager([l1], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.SetAsync("product:2", "v1", TimeSpan.FromHours(1), tags: ["catalog"]);
        manager.MapEvent("catalog-imported", InvalidationTarget.ForTag("catalog"));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await manager.RaiseEventAsync("catalog-imported", cts.Token));

        Assert.True(l1.TryGet<string>("product:2", out _));
        Assert.Equal(["product:2"], await manager.GetTaggedKeysAsync("catalog"));
    }

    // ---------------------------------------------------------------- races

    [Fact]
    public async Task InvalidateAsync_RacingASetOfTheSameKey_TheNewValueStaysFindableByPatterns()
    {
        // A tier that cannot list keys (memcached, or any custom ICacheOps whose calls complete asynchronously): the
        // manager's key tracking is the only way a pattern finds its keys. A SetAsync that lands while an invalidation
        // of the same key is in flight (after the tier removed the old value) writes a new value and tracks the key; the
        // invalidation must not untrack it afterwards (it did: the new value was cached but invisible to patterns).
        await using var inner = new InMemoryTier(new InMemoryTierOptions { Name = "inner", TimeProvider = _time });
        var tier = new DeleteGateTier(inner);
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.SetAsync("cart:7", "old");

        var invalidation = manager.InvalidateAsync("cart:7").AsTask();
        await tier.DeleteReached.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the old value is gone from the tier
        await manager.SetAsync("cart:7", "new");                            // a newer value is written
        tier.ReleaseDelete.SetResult();
        await invalidation.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(inner.TryGet<string>("cart:7", out var value));
        Assert.Equal("new", value);
        Assert.Equal(["cart:7"], await manager.FindKeysAsync(CacheKeyPattern.Prefix("cart:")));
        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("cart:"));
        Assert.Equal(["cart:7"], receipt.AffectedKeys);
        Assert.False(inner.TryGet<string>("cart:7", out _));
    }

    [Fact]
    public async Task LazyInvalidation_ReadWhileALowerTierIsDown_NeverServesTheStaleValueAfterwards()
    {
        // GetAsync removes a stale key tier by tier (last first). A lower tier that throws must not stop it before L1
        // (it did: the mark was gone and L1 still held the invalidated value, which the next read served as fresh).
        await using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{FreePort.Next()},abortConnect=false,connectRetry=1,connectTimeout=500");
        await using var dead = new TaiCache.Redis.RedisCache(connection, new TaiCache.Redis.RedisCacheOptions { Name = "deadredis", OperationTimeout = TimeSpan.FromMilliseconds(500) });
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1" });
        await using var manager = new InvalidationManager([l1, dead]);
        l1.Set("lazy:1", "old");

        var receipt = await manager.InvalidateAsync("lazy:1", InvalidationStrategy.Lazy);
        Assert.Equal(["deadredis"], receipt.FailedTiers);
        Assert.True(manager.IsStale("lazy:1"));

        try
        {
            await manager.GetAsync<string>("lazy:1"); // a miss, or the tier's failure: both acceptable
        }
        catch (CacheException)
        {
        }

        var again = await manager.GetAsync<string>("lazy:1");
        Assert.False(again.HasValue, again.HasValue ? $"served the lazily invalidated value '{again.Value}'" : null);
    }

    // ---------------------------------------------------------------- graph

    [Fact]
    public async Task Cascade_CycleAndDiamond_EachKeyOnce_CycleReported()
    {
        // a -> b -> a cycle plus a diamond a -> {c, d} -> e; every key invalidated once.
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", TimeProvider = _time });
        await using var manager = new InvalidationManager([l1], new InvalidationManagerOptions { TimeProvider = _time });
        foreach (var k in new[] { "a", "b", "c", "d", "e" })
        {
            await manager.SetAsync(k, k);
        }

        await manager.AddDependencyAsync("b", "a");
        await manager.AddDependencyAsync("a", "b");
        await manager.AddDependencyAsync("c", "a");
        await manager.AddDependencyAsync("d", "a");
        await manager.AddDependencyAsync("e", "c");
        await manager.AddDependencyAsync("e", "d");

        var receipt = await manager.InvalidateAsync("a");

        Assert.Equal(5, receipt.Keys.Count);
        Assert.Equal(5, receipt.Keys.Select(k => k.Key).Distinct().Count());
        Assert.All(receipt.Keys, k => Assert.Equal(1, k.TiersAffected));
        Assert.Equal(["a", "b", "a"], Assert.Single(receipt.Cycles));
        Assert.Equal(2, receipt.Find("e")!.Depth);
    }

    [Fact]
    public async Task Cascade_TenThousandLevelChain_NoStackOverflow_PathsIntact()
    {
        // iterative walk, cycle search and path layout.
        await using var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", MaximumSize = 20_000, TimeProvider = _time });
        await using var manager = new InvalidationManager([l1], new InvalidationManagerOptions { TimeProvider = _time, MaxCascadeDepth = 20_000 });
        const int Depth = 10_000;
        for (var i = 0; i < Depth; i++)
        {
            await manager.AddDependencyAsync($"chain:{i + 1}", $"chain:{i}");
        }

        await manager.AddDependencyAsync("chain:0", $"chain:{Depth}"); // closes a 10,001-key cycle
        var receipt = await manager.InvalidateAsync("chain:0");

        Assert.Equal(Depth + 1, receipt.Keys.Count);
        Assert.Equal(Depth + 2, Assert.Single(receipt.Cycles).Count);
        Assert.Equal(Depth + 1, receipt.Find($"chain:{Depth}")!.Path.Count);
        Assert.False(receipt.DepthLimitReached);
    }

    // ---------------------------------------------------------------- namespaces

    [Fact]
    public async Task CacheNamespace_CounterLostRightAfterABurstOfBumps_NeverReusesAnOldVersion()
    {
        // docs/invalidation.md: a lost counter restarts past every version used before. Versions once stepped by 1
        // from a start in milliseconds, so five bumps within 2 ms ran ahead of the clock and a counter lost then
        // restarted at a version already used; now they follow the clock in microseconds.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var prefix = Unique("ns") + ":";
        var ns = new CacheNamespace(prefix, connection, new CacheNamespaceOptions { TimeProvider = _time });
        var used = new List<long> { await ns.GetVersionAsync() };
        for (var i = 0; i < 5; i++)
        {
            used.Add(await ns.InvalidateAsync());
            if (i == 1)
            {
                _time.Advance(TimeSpan.FromMilliseconds(1));
            }
        }

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await connection.GetDatabase().KeyDeleteAsync("taicache:nsv:" + prefix); // evicted / lost

        var restarted = await ns.GetVersionAsync();
        Assert.True(restarted > used.Max(), $"restarted at v{restarted}, already used: {string.Join(", ", used)}");
    }

    /// <summary>
    /// A real in-memory tier behind a custom <see cref="ICacheOps"/> (the docs: "any ICacheOps") whose removals complete
    /// asynchronously, like any remote tier's: the removal is applied, then completes when the test says so.
    /// </summary>
    private sealed class DeleteGateTier(InMemoryTier inner) : ICacheOps
    {
        private int _deletes;

        public TaskCompletionSource DeleteReached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource ReleaseDelete { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "gated";

        public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) => inner.GetAsync<T>(key, cancellationToken);

        public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => inner.SetAsync(key, value, ttl, cancellationToken);

        public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        {
            var removed = await inner.DeleteAsync(key, cancellationToken);
            if (Interlocked.Increment(ref _deletes) == 1)
            {
                DeleteReached.SetResult();
                await ReleaseDelete.Task;
            }

            return removed;
        }

        public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => inner.ExistsAsync(key, cancellationToken);

        public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) => inner.ExpireAsync(key, ttl, cancellationToken);

        public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.GetManyAsync<T>(keys, cancellationToken);

        public ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => inner.SetManyAsync(items, ttl, cancellationToken);

        public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.DeleteManyAsync(keys, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
