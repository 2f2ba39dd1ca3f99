using System.Diagnostics;
using TaiCache.Invalidation;
using TaiCache.Metrics;
using TaiCache.Sqlite;
using TaiCache.Tests.Sqlite;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Metrics;

/// <summary>Activities of <see cref="MultiTierCache"/> tier calls and <see cref="InvalidationManager"/> calls, seen through an <see cref="ActivityListener"/>.</summary>
[Collection(TaiCacheActivityCollection.Name)]
public sealed class TierTracingTests : IDisposable
{
    private readonly List<string> _files = [];

    private static string NewName(string test) => $"{nameof(TierTracingTests)}:{test}:{Guid.NewGuid():N}";

    private static string Key(string test) => $"{nameof(TierTracingTests)}:{test}:{Guid.NewGuid():N}";

    private SqliteTier Sqlite(string name)
    {
        var path = SqliteTestFiles.NewPath(nameof(TierTracingTests));
        _files.Add(path);
        return new SqliteTier(new SqliteTierOptions { Name = name, FilePath = path, SweepInterval = null });
    }

    private static MultiTierCache Cache(string name, Action<MultiTierCacheOptions>? configure, params ICacheOps[] tiers)
    {
        var options = new MultiTierCacheOptions { Name = name };
        foreach (var tier in tiers)
        {
            options.Tiers.Add(tier);
        }

        configure?.Invoke(options);
        return new MultiTierCache(options);
    }

    private static object? Tag(Activity a, string tag) => a.GetTagItem(tag);

    public void Dispose()
    {
        foreach (var file in _files)
        {
            SqliteTestFiles.Delete(file);
        }
    }

    [Fact]
    public async Task GetAsync_L1MissL2Hit_TracesOneGetOnL2WithHit()
    {
        var name = NewName(nameof(GetAsync_L1MissL2Hit_TracesOneGetOnL2WithHit));
        var l2 = Sqlite("sqlite-l2");
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), l2);
        var key = Key("hit");
        await l2.SetAsync(key, 42);
        using var capture = new ActivityCapture(name);

        var result = await cache.GetAsync<int>(key);

        Assert.Equal(42, result.Value);
        var get = Assert.Single(capture.Stopped);
        Assert.Equal(TaiCacheTelemetry.GetActivity, get.OperationName);
        Assert.Equal("sqlite-l2", Tag(get, TaiCacheTelemetry.CacheTierTag));
        Assert.Equal("get", Tag(get, TaiCacheTelemetry.OperationTag));
        Assert.Equal("hit", Tag(get, TaiCacheTelemetry.ResultTag));
        Assert.Equal(ActivityKind.Internal, get.Kind);
        Assert.Equal(ActivityStatusCode.Unset, get.Status);
        Assert.DoesNotContain(get.TagObjects, t => Equals(t.Value, key) || Equals(t.Value, 42));
    }

    [Fact]
    public async Task GetAsync_MissEverywhere_TracesGetPerLowerTierWithMiss()
    {
        var name = NewName(nameof(GetAsync_MissEverywhere_TracesGetPerLowerTierWithMiss));
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), TierTestKit.Memory("L2"), Sqlite("L3"));
        using var capture = new ActivityCapture(name);

        var result = await cache.GetAsync<int>(Key("miss"));

        Assert.False(result.HasValue);
        var gets = capture.Named(TaiCacheTelemetry.GetActivity);
        Assert.Equal(["L2", "L3"], gets.Select(a => Tag(a, TaiCacheTelemetry.CacheTierTag)));
        Assert.All(gets, a => Assert.Equal("miss", Tag(a, TaiCacheTelemetry.ResultTag)));
        Assert.Equal(2, capture.Stopped.Count);
    }

    [Fact]
    public async Task GetAsync_L1Hit_NoActivityAndNoAllocation()
    {
        var name = NewName(nameof(GetAsync_L1Hit_NoActivityAndNoAllocation));
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), Sqlite("L2"));
        var key = Key("l1");
        await cache.SetAsync(key, 7);
        Func<int, CancellationToken, ValueTask<int>> factory = static (_, _) => throw new InvalidOperationException("not called on a hit");
        using var capture = new ActivityCapture(name);
        _ = await cache.GetAsync<int>(key); // warm up
        _ = await cache.GetOrSetAsync(key, 0, factory);

        var (allocated, sync, got, gotOrSet) = MeasureL1Hits(cache, key, factory);

        Assert.True(sync);
        Assert.Equal(7, got);
        Assert.Equal(7, gotOrSet);
        Assert.Equal(0, allocated);
        Assert.Empty(capture.Stopped);
    }

    private static (long Bytes, bool Sync, int Get, int GetOrSet) MeasureL1Hits(MultiTierCache cache, string key, Func<int, CancellationToken, ValueTask<int>> factory)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
#pragma warning disable CA2012 // Completion is checked below before any result is read.
        var get = cache.GetAsync<int>(key);
        var getOrSet = cache.GetOrSetAsync(key, 0, factory);
#pragma warning restore CA2012
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        return get.IsCompletedSuccessfully && getOrSet.IsCompletedSuccessfully
            ? (allocated, true, get.GetAwaiter().GetResult().Value, getOrSet.GetAwaiter().GetResult())
            : (allocated, false, 0, 0);
    }

    [Fact]
    public async Task SetAsync_WriteThrough_TracesSetPerLowerTierLowestFirst()
    {
        var name = NewName(nameof(SetAsync_WriteThrough_TracesSetPerLowerTierLowestFirst));
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), TierTestKit.Memory("L2"), Sqlite("L3"));
        using var capture = new ActivityCapture(name);

        await cache.SetAsync(Key("set"), "v");

        var sets = capture.Stopped;
        Assert.All(sets, a => Assert.Equal(TaiCacheTelemetry.SetActivity, a.OperationName));
        Assert.Equal(["L3", "L2"], sets.Select(a => Tag(a, TaiCacheTelemetry.CacheTierTag)));
        Assert.All(sets, a => Assert.Equal("set", Tag(a, TaiCacheTelemetry.OperationTag)));
        Assert.All(sets, a => Assert.Equal(ActivityStatusCode.Unset, a.Status));
    }

    [Fact]
    public async Task SetAsync_FailingTier_ActivityHasErrorStatusWithoutKey()
    {
        var name = NewName(nameof(SetAsync_FailingTier_ActivityHasErrorStatusWithoutKey));
        var l2 = new FaultyTier(TierTestKit.Memory("L2")) { Down = true };
        await using var cache = Cache(name, o => o.CircuitBreakerFailureThreshold = 0, TierTestKit.Memory("L1"), l2);
        var key = Key("secret-key");
        using var capture = new ActivityCapture(name);

        await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync(key, 1).AsTask());
        var read = await cache.GetAsync<int>(key);

        Assert.False(read.HasValue);
        var set = Assert.Single(capture.Named(TaiCacheTelemetry.SetActivity));
        Assert.Equal(ActivityStatusCode.Error, set.Status);
        Assert.Equal(typeof(CacheConnectionException).FullName, Tag(set, TaiCacheTelemetry.ErrorTypeTag));
        Assert.DoesNotContain(key, set.StatusDescription ?? string.Empty, StringComparison.Ordinal);
        var get = Assert.Single(capture.Named(TaiCacheTelemetry.GetActivity));
        Assert.Equal(ActivityStatusCode.Error, get.Status);
        Assert.Equal("L2", Tag(get, TaiCacheTelemetry.CacheTierTag));
        Assert.All(capture.Stopped, a => Assert.DoesNotContain(a.TagObjects, t => t.Value is string s && s.Contains(key, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task GetAsync_CircuitOpen_TracesErrorWithoutCallingTier()
    {
        var name = NewName(nameof(GetAsync_CircuitOpen_TracesErrorWithoutCallingTier));
        var l2 = new FaultyTier(TierTestKit.Memory("L2")) { Down = true };
        await using var cache = Cache(name, o => { o.CircuitBreakerFailureThreshold = 1; o.CircuitBreakerBreakDuration = TimeSpan.FromHours(1); }, TierTestKit.Memory("L1"), l2);
        _ = await cache.GetAsync<int>(Key("trip"));
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        var calls = l2.Calls;
        using var capture = new ActivityCapture(name);

        _ = await cache.GetAsync<int>(Key("skipped"));

        Assert.Equal(calls, l2.Calls);
        var get = Assert.Single(capture.Stopped);
        Assert.Equal(ActivityStatusCode.Error, get.Status);
        Assert.Equal("circuit_open", Tag(get, TaiCacheTelemetry.ErrorTypeTag));
    }

    [Fact]
    public async Task GetManyAsync_SomeInL2_TracesOneBatchReadWithCounts()
    {
        var name = NewName(nameof(GetManyAsync_SomeInL2_TracesOneBatchReadWithCounts));
        var l2 = Sqlite("L2");
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), l2);
        var keys = Enumerable.Range(0, 4).Select(i => Key("many") + i).ToArray();
        await cache.SetAsync(keys[0], 0); // in L1: never asked of L2
        await l2.SetAsync(keys[1], 1);
        await l2.SetAsync(keys[2], 2);
        using var capture = new ActivityCapture(name);

        var found = await cache.GetManyAsync<int>(keys);

        Assert.Equal(3, found.Count);
        var get = Assert.Single(capture.Stopped);
        Assert.Equal(TaiCacheTelemetry.GetActivity, get.OperationName);
        Assert.Equal("get_many", Tag(get, TaiCacheTelemetry.OperationTag));
        Assert.Equal(3, Tag(get, TaiCacheTelemetry.KeyCountTag));
        Assert.Equal(2, Tag(get, TaiCacheTelemetry.HitCountTag));
        Assert.Equal("partial", Tag(get, TaiCacheTelemetry.ResultTag));
    }

    [Fact]
    public async Task SetManyAndDeleteAsync_TraceBatchSetAndTierRemovals()
    {
        var name = NewName(nameof(SetManyAndDeleteAsync_TraceBatchSetAndTierRemovals));
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), Sqlite("L2"));
        var keys = Enumerable.Range(0, 3).Select(i => Key("batch") + i).ToArray();
        using var capture = new ActivityCapture(name);

        await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1)));
        Assert.True(await cache.DeleteAsync(keys[0]));
        Assert.Equal(2, await cache.DeleteManyAsync(keys[1..]));

        var set = Assert.Single(capture.Named(TaiCacheTelemetry.SetActivity));
        Assert.Equal("set_many", Tag(set, TaiCacheTelemetry.OperationTag));
        Assert.Equal(3, Tag(set, TaiCacheTelemetry.KeyCountTag));
        var removals = capture.Named(TaiCacheTelemetry.InvalidateActivity);
        Assert.Equal(["delete", "delete_many"], removals.Select(a => Tag(a, TaiCacheTelemetry.OperationTag)));
        Assert.All(removals, a => Assert.Equal("L2", Tag(a, TaiCacheTelemetry.CacheTierTag)));
        Assert.Equal(2, Tag(removals[1], TaiCacheTelemetry.KeyCountTag));
    }

    [Fact]
    public async Task GetAsync_InsideCallerActivity_TierActivityIsItsChild()
    {
        var name = NewName(nameof(GetAsync_InsideCallerActivity_TierActivityIsItsChild));
        var sourceName = NewName("source");
        using var source = new ActivitySource(sourceName);
        await using var cache = Cache(name, null, TierTestKit.Memory("L1"), Sqlite("L2"));
        using var capture = new ActivityCapture(name, sourceName);

        using (var request = source.StartActivity("request"))
        {
            Assert.NotNull(request);
            _ = await cache.GetAsync<int>(Key("child"));
            var get = Assert.Single(capture.Stopped);
            Assert.Equal(request.SpanId, get.ParentSpanId);
            Assert.Equal(request.TraceId, get.TraceId);
            Assert.Same(request, Activity.Current);
        }
    }

    [Fact]
    public async Task WriteBehindFlush_TracesBatchWriteAsRootActivity()
    {
        var name = NewName(nameof(WriteBehindFlush_TracesBatchWriteAsRootActivity));
        var sourceName = NewName("source");
        using var source = new ActivitySource(sourceName);
        using var capture = new ActivityCapture(name, sourceName);
        MultiTierCache cache;
        using (source.StartActivity("built-inside-a-request"))
        {
            // The flusher starts here; its activities must not become children of this request.
            cache = Cache(name, o => o.WriteStrategy = WriteStrategy.WriteBehind, TierTestKit.Memory("L1"), Sqlite("L2"));
        }

        await using var scope = cache;
        var keys = Enumerable.Range(0, 3).Select(i => Key("wb") + i).ToArray();
        foreach (var key in keys)
        {
            await cache.SetAsync(key, 1);
        }

        var flushed = await cache.FlushAsync(TimeSpan.FromSeconds(30));
        Assert.True(flushed.Completed);
        await TierTestKit.Eventually(() => capture.Stopped.Sum(a => (int)(Tag(a, TaiCacheTelemetry.KeyCountTag) ?? 0)) >= 3);

        var writes = capture.Stopped;
        Assert.All(writes, a =>
        {
            Assert.Equal(TaiCacheTelemetry.SetActivity, a.OperationName);
            Assert.Equal("write_behind_set", Tag(a, TaiCacheTelemetry.OperationTag));
            Assert.Equal("L2", Tag(a, TaiCacheTelemetry.CacheTierTag));
            Assert.Null(a.Parent);
            Assert.Equal(default, a.ParentSpanId);
        });
    }

    [Fact]
    public async Task InvalidateAsync_Cascade_TracesOneInvalidateWithKeyCountAndReceiptId()
    {
        var l1Name = NewName("l1");
        var l2Name = NewName("l2");
        var l1 = TierTestKit.Memory(l1Name);
        var l2 = TierTestKit.Memory(l2Name);
        await using var manager = new InvalidationManager([l1, l2]);
        var root = Key("root");
        await manager.AddDependencyAsync(root + ":a", root);
        await manager.AddDependencyAsync(root + ":b", root + ":a");
        using var capture = new ActivityCapture($"{l1Name},{l2Name}");

        var receipt = await manager.InvalidateAsync(root);
        await manager.TagAsync(root, ["t"]);
        var byTag = await manager.InvalidateTagAsync("t");
        var byPattern = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix(root), InvalidationStrategy.Lazy);

        var activities = capture.Stopped;
        Assert.Equal(3, activities.Count);
        Assert.All(activities, a => Assert.Equal(TaiCacheTelemetry.InvalidateActivity, a.OperationName));
        var cascade = activities[0];
        Assert.Equal(3, Tag(cascade, TaiCacheTelemetry.KeyCountTag));
        Assert.Equal("key", Tag(cascade, TaiCacheTelemetry.InvalidationTriggerTag));
        Assert.Equal("eager", Tag(cascade, TaiCacheTelemetry.InvalidationStrategyTag));
        Assert.Equal(receipt.Id.ToString(), Tag(cascade, TaiCacheTelemetry.InvalidationIdTag));
        Assert.Equal(ActivityStatusCode.Unset, cascade.Status);
        Assert.Equal("tag", Tag(activities[1], TaiCacheTelemetry.InvalidationTriggerTag));
        Assert.Equal(byTag.Keys.Count, Tag(activities[1], TaiCacheTelemetry.KeyCountTag));
        Assert.Equal(byTag.Id.ToString(), Tag(activities[1], TaiCacheTelemetry.InvalidationIdTag));
        Assert.Equal("pattern", Tag(activities[2], TaiCacheTelemetry.InvalidationTriggerTag));
        Assert.Equal("lazy", Tag(activities[2], TaiCacheTelemetry.InvalidationStrategyTag));
        Assert.Equal(byPattern.Keys.Count, Tag(activities[2], TaiCacheTelemetry.KeyCountTag));
        Assert.All(activities, a => Assert.DoesNotContain(a.TagObjects, t => t.Value is string s && s.Contains(root, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task InvalidateAsync_OverMultiTierCache_TierRemovalsAreChildrenAndFailureIsError()
    {
        var name = NewName(nameof(InvalidateAsync_OverMultiTierCache_TierRemovalsAreChildrenAndFailureIsError));
        var l2 = new FaultyTier(Sqlite("L2"));
        await using var cache = Cache(name, o => o.CircuitBreakerFailureThreshold = 0, TierTestKit.Memory("L1"), l2);
        await using var manager = new InvalidationManager([cache]);
        var key = Key("mt");
        await cache.SetAsync(key, 1);
        using var capture = new ActivityCapture(name);

        await manager.InvalidateAsync(key);
        l2.Down = true;
        var failed = await manager.RaiseEventAsync("nothing-mapped-" + Guid.NewGuid().ToString("N"));
        Assert.True(failed.Succeeded); // no keys: no tier call
        manager.MapEvent("evt", InvalidationTarget.ForKey(key));
        var receipt = await manager.RaiseEventAsync("evt");
        Assert.False(receipt.Succeeded);

        var invalidations = capture.Stopped.Where(a => Equals(Tag(a, TaiCacheTelemetry.OperationTag), "invalidate")).ToList();
        Assert.Equal(3, invalidations.Count);
        var removals = capture.Stopped.Where(a => Equals(Tag(a, TaiCacheTelemetry.OperationTag), "delete")).ToList();
        Assert.Equal(2, removals.Count);
        Assert.Equal(invalidations[0].SpanId, removals[0].ParentSpanId);
        Assert.Equal("L2", Tag(removals[0], TaiCacheTelemetry.CacheTierTag));
        Assert.Equal(ActivityStatusCode.Unset, removals[0].Status);
        Assert.Equal(0, Tag(invalidations[1], TaiCacheTelemetry.KeyCountTag));
        Assert.Equal(invalidations[2].SpanId, removals[1].ParentSpanId);
        Assert.Equal(ActivityStatusCode.Error, removals[1].Status);
        Assert.Equal(ActivityStatusCode.Error, invalidations[2].Status);
        Assert.Equal("event", Tag(invalidations[2], TaiCacheTelemetry.InvalidationTriggerTag));
    }
}
