using TaiCache.Tiering;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Adapters;
using TaiCache.Sqlite;

namespace TaiCache.Tests.Adapters;

/// <summary>
/// HybridCache behaviour, written against the <see cref="HybridCache"/> abstract class: get-or-create, set, remove, tags,
/// RemoveByTag, expiry on a fake clock, and one factory call under concurrency.
/// </summary>
public sealed class TaiCacheHybridCacheTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly string _db = Path.Combine(Path.GetTempPath(), $"taicache-hybrid-{Guid.NewGuid():N}.db");
    private readonly MultiTierCache _cache;
    private readonly TaiCacheHybridCache _adapter;

    public TaiCacheHybridCacheTests()
    {
        var options = new MultiTierCacheOptions { Name = "hybrid", TimeProvider = _time };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000, TimeProvider = _time }));
        options.Tiers.Add(new SqliteTier(new SqliteTierOptions { FilePath = _db, TimeProvider = _time, SweepInterval = null }));
        _cache = new MultiTierCache(options);
        _adapter = new TaiCacheHybridCache(_cache);
    }

    private HybridCache Cache => _adapter;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _adapter.DisposeAsync();
        await _cache.DisposeAsync();
        foreach (var suffix in new[] { string.Empty, "-wal", "-shm" })
        {
            File.Delete(_db + suffix);
        }
    }

    [Fact]
    public async Task GetOrCreateAsync_Miss_CallsFactoryOnceThenServesTheValue()
    {
        var key = Key();
        var calls = 0;

        var first = await Cache.GetOrCreateAsync(key, _ => { calls++; return ValueTask.FromResult("v1"); });
        var second = await Cache.GetOrCreateAsync(key, _ => { calls++; return ValueTask.FromResult("v2"); });

        Assert.Equal("v1", first);
        Assert.Equal("v1", second);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task GetOrCreateAsync_WithState_PassesTheState()
    {
        var value = await Cache.GetOrCreateAsync(Key(), 21, static (s, _) => ValueTask.FromResult(s * 2));

        Assert.Equal(42, value);
    }

    [Fact]
    public async Task GetOrCreateAsync_ConcurrentCallers_FactoryRunsOnce()
    {
        var key = Key();
        var calls = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async ValueTask<int> Factory(CancellationToken ct)
        {
            Interlocked.Increment(ref calls);
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            return 7;
        }

        var callers = Enumerable.Range(0, 32).Select(_ => Task.Run(async () => await Cache.GetOrCreateAsync(key, Factory))).ToArray();
        await Task.Delay(100); // let the callers pile up on the one load
        release.SetResult();
        var values = await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(values, v => Assert.Equal(7, v));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task SetAsync_ThenGetOrCreate_ReturnsTheSetValueWithoutFactory()
    {
        var key = Key();
        await Cache.SetAsync(key, "set");

        var value = await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("factory"));

        Assert.Equal("set", value);
    }

    [Fact]
    public async Task SetAsync_Null_IsStoredAsAValue()
    {
        var key = Key();
        await Cache.SetAsync<string?>(key, null);

        var value = await Cache.GetOrCreateAsync<string?>(key, _ => ValueTask.FromResult<string?>("factory"));

        Assert.Null(value);
    }

    [Fact]
    public async Task RemoveAsync_ThenGetOrCreate_CallsFactoryAgain()
    {
        var key = Key();
        await Cache.SetAsync(key, 1);
        await Cache.RemoveAsync(key);

        Assert.Equal(2, await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult(2)));
        Assert.Equal(2, (await _cache.Tiers[1].GetAsync<int>(key)).Value);
    }

    [Fact]
    public async Task RemoveAsync_ManyKeys_RemovesEveryTier()
    {
        var a = Key();
        var b = Key();
        await Cache.SetAsync(a, 1);
        await Cache.SetAsync(b, 2);

        await Cache.RemoveAsync([a, b]);

        Assert.False(await _cache.ExistsAsync(a));
        Assert.False(await _cache.ExistsAsync(b));
    }

    [Fact]
    public async Task RemoveByTagAsync_RemovesTaggedEntriesOnly()
    {
        var red1 = Key();
        var red2 = Key();
        var blue = Key();
        await Cache.SetAsync(red1, 1, tags: ["red"]);
        await Cache.GetOrCreateAsync(red2, _ => ValueTask.FromResult(2), tags: ["red", "shape"]);
        await Cache.SetAsync(blue, 3, tags: ["blue"]);

        await Cache.RemoveByTagAsync("red");

        Assert.False(await _cache.ExistsAsync(red1));
        Assert.False(await _cache.ExistsAsync(red2));
        Assert.False((await _cache.Tiers[1].GetAsync<int>(red2)).HasValue);
        Assert.Equal(3, (await _cache.GetAsync<int>(blue)).Value);
        Assert.Equal(20, await Cache.GetOrCreateAsync(red2, _ => ValueTask.FromResult(20)));
    }

    [Fact]
    public async Task RemoveByTagAsync_AfterAnOverwriteWithOtherTags_LeavesTheNewEntryAlone()
    {
        var key = Key();
        await Cache.SetAsync(key, "v1", tags: ["old"]);
        await Cache.SetAsync(key, "v2", tags: ["new"]);

        await Cache.RemoveByTagAsync("old"); // removed v2 before: tags stuck to the key

        Assert.Equal("v2", (await _cache.GetAsync<string>(key)).Value);
        await Cache.RemoveByTagAsync("new");
        Assert.False(await _cache.ExistsAsync(key));
    }

    [Fact]
    public async Task RemoveByTagAsync_AfterRemoveAndAnUntaggedSet_LeavesTheNewEntryAlone()
    {
        var key = Key();
        var other = Key();
        await Cache.SetAsync(key, "v1", tags: ["x"]);
        await Cache.SetAsync(other, "o", tags: ["x"]);
        await Cache.RemoveAsync(key);
        await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("v2"));

        await Cache.RemoveByTagAsync("x");

        Assert.Equal("v2", (await _cache.GetAsync<string>(key)).Value);
        Assert.False(await _cache.ExistsAsync(other));
    }

    [Fact]
    public async Task RemoveAsync_DropsTheKeysTagMemberships_SoTagsDoNotGrowWithRemovedKeys()
    {
        var tags = new TaiCache.Invalidation.InvalidationManager([_cache]);
        await using var scope = tags;
        var adapter = new TaiCacheHybridCache(_cache, tags);
        var tag = $"grow-{Guid.NewGuid():N}";
        for (var i = 0; i < 20; i++)
        {
            var key = Key();
            await adapter.SetAsync(key, i, tags: [tag]);
            await adapter.RemoveAsync(key);
        }

        var kept = Key();
        await adapter.SetAsync(kept, 1, tags: [tag]);
        await adapter.SetAsync(kept, 2, tags: ["elsewhere"]); // an overwrite without the tag drops it too

        Assert.Empty(await tags.GetTaggedKeysAsync(tag));
        Assert.Equal([kept], await tags.GetTaggedKeysAsync("elsewhere"));
    }

    [Fact]
    public async Task RemoveByTagAsync_ByAnInstanceWhoseL1HoldsAnOlderTagList_StillRemovesTheEntry()
    {
        // Two instances over one shared lower tier; A's L1 keeps the tag list A wrote, B overwrote the entry with t2.
        var shared = Tiering.TierTestKit.Memory("shared");
        MultiTierCache Instance()
        {
            var options = new MultiTierCacheOptions();
            options.Tiers.Add(Tiering.TierTestKit.Memory("L1"));
            options.Tiers.Add(new Tiering.FaultyTier(shared));
            return new MultiTierCache(options);
        }

        await using var cacheA = Instance();
        await using var cacheB = Instance();
        await using var tags = new TaiCache.Invalidation.InvalidationManager([cacheA]);
        var a = new TaiCacheHybridCache(cacheA, tags);
        var b = new TaiCacheHybridCache(cacheB, tags);
        var key = Key();
        await a.SetAsync(key, "from-a", tags: ["t1"]);
        await b.SetAsync(key, "from-b", tags: ["t2"]);

        await a.RemoveByTagAsync("t2"); // A read its own L1's [t1] and spared the entry

        Assert.False((await shared.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task SetAsync_OverlappingSetWithOtherTagsLandsFirst_RemoveByTagOfTheValueLandingLast_RemovesIt()
    {
        var (cache, l2) = GatedInstance();
        await using var scope = cache;
        await using var adapter = new TaiCacheHybridCache(cache);
        var key = Key();
        var (gate, reached) = l2.HoldCallsOn(key);

        // The first set has tagged the key and is held storing its value; the second tags, stores and returns.
        var first = adapter.SetAsync(key, "first", tags: ["a"]).AsTask();
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        l2.Gate = null;
        await adapter.SetAsync(key, "second", tags: ["b"]);
        gate.SetResult();
        await first.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("first", (await l2.Inner.GetAsync<string>(key)).Value); // the first value landed last

        await adapter.RemoveByTagAsync("a"); // the second set's tag list no longer drops the first one's tag

        Assert.False(await cache.ExistsAsync(key));
    }

    [Fact]
    public async Task GetOrCreateAsync_FactoryValueStoredWhileASetWithOtherTagsIsInFlight_RemoveByTagOfTheSetsTag_RemovesIt()
    {
        var (cache, l2) = GatedInstance();
        await using var scope = cache;
        await using var adapter = new TaiCacheHybridCache(cache);
        var key = Key();
        var (gate, reached) = l2.HoldCallsOn(key);

        // The set has tagged the key and is held storing its value; a get-or-create misses, loads and stores.
        var set = adapter.SetAsync(key, "set", tags: ["b"]).AsTask();
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        l2.Gate = null;
        Assert.Equal("loaded", await adapter.GetOrCreateAsync(key, _ => ValueTask.FromResult("loaded"), tags: ["a"]));
        gate.SetResult();
        await set.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("set", (await l2.Inner.GetAsync<string>(key)).Value); // the set landed last

        await adapter.RemoveByTagAsync("b");

        Assert.False(await cache.ExistsAsync(key));
    }

    [Fact]
    public async Task RemoveAsync_RacingAnotherInstancesSetOfTheKey_TheSetsValueIsStillRemovedByItsTag()
    {
        // A removes the key; B tags the key after A's delete and stores its value after A looked whether the key was
        // back, so A drops the key's memberships, B's among them.
        await using var two = new TwoInstances();
        var (shared, gatedA, gatedB, a, b) = (two.Shared, two.GatedA, two.GatedB, two.A, two.B);
        var key = Key();
        await a.SetAsync(key, "old", tags: ["t"]);

        var (lookA, reachedA) = gatedA.HoldCallsOn(key);
        var removal = a.RemoveAsync(key).AsTask();
        await reachedA.Task.WaitAsync(TimeSpan.FromSeconds(30)); // deleted; A's look at the key is held
        gatedA.Gate = null;
        var (storeB, reachedB) = gatedB.HoldCallsOn(key);
        var set = b.SetAsync(key, "new", tags: ["t"]).AsTask();
        await reachedB.Task.WaitAsync(TimeSpan.FromSeconds(30)); // B has tagged the key; its value is held
        gatedB.Gate = null;
        lookA.SetResult();
        await removal.WaitAsync(TimeSpan.FromSeconds(30));
        storeB.SetResult();
        await set.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("new", (await shared.GetAsync<string>(key)).Value);

        await a.RemoveByTagAsync("t");

        Assert.False((await shared.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task SetAsync_TwoInstancesSetOneKeyWithOtherTags_TheValueLandingLastIsRemovedByItsTag()
    {
        // Two instances over one shared store and one tag store. A has tagged the key with "a" and is held storing its
        // value; B tags the key with "b" (its tag list replaces A's, and drops the key from "a"), stores and returns;
        // then A's value lands. Nothing orders the two instances' writes.
        await using var two = new TwoInstances();
        var (shared, gatedA, a, b) = (two.Shared, two.GatedA, two.A, two.B);
        var key = Key();
        var (gate, reached) = gatedA.HoldCallsOn(key);

        var first = a.SetAsync(key, "from-a", tags: ["a"]).AsTask();
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        gatedA.Gate = null;
        await b.SetAsync(key, "from-b", tags: ["b"]);
        gate.SetResult();
        await first.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("from-a", (await shared.GetAsync<string>(key)).Value); // A's value landed last

        await b.RemoveByTagAsync("a");

        Assert.False((await shared.GetAsync<string>(key)).HasValue);
        Assert.False((await two.CacheA.GetAsync<string>(key)).HasValue);
    }

    /// <summary>Two instances, A and B, each its own L1 over one shared store (reached through a gate of its own), with one tag store.</summary>
    private sealed class TwoInstances : IAsyncDisposable
    {
        public TwoInstances()
        {
            GatedA = new Tiering.FaultyTier(Shared);
            GatedB = new Tiering.FaultyTier(Shared);
            CacheA = Instance(GatedA);
            CacheB = Instance(GatedB);
            Tags = new TaiCache.Invalidation.InvalidationManager([CacheA, CacheB]);
            A = new TaiCacheHybridCache(CacheA, Tags);
            B = new TaiCacheHybridCache(CacheB, Tags);
        }

        public InMemoryTier Shared { get; } = Tiering.TierTestKit.Memory("shared");

        public Tiering.FaultyTier GatedA { get; }

        public Tiering.FaultyTier GatedB { get; }

        public MultiTierCache CacheA { get; }

        public MultiTierCache CacheB { get; }

        public TaiCache.Invalidation.InvalidationManager Tags { get; }

        public TaiCacheHybridCache A { get; }

        public TaiCacheHybridCache B { get; }

        public async ValueTask DisposeAsync()
        {
            await Tags.DisposeAsync();
            await CacheA.DisposeAsync();
            await CacheB.DisposeAsync();
        }

        private static MultiTierCache Instance(ICacheOps below)
        {
            var options = new MultiTierCacheOptions();
            options.Tiers.Add(Tiering.TierTestKit.Memory("L1"));
            options.Tiers.Add(below);
            return new MultiTierCache(options);
        }
    }

    /// <summary>An L1 over a lower tier whose calls can be held at a gate.</summary>
    private static (MultiTierCache Cache, Tiering.FaultyTier L2) GatedInstance()
    {
        var l2 = new Tiering.FaultyTier(Tiering.TierTestKit.Memory("L2"));
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(Tiering.TierTestKit.Memory("L1"));
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l2);
    }

    [Fact]
    public async Task RemoveByTagAsync_EntryRecreatedBeforeItsCleanup_KeepsTheNewEntrysTags()
    {
        var tags = new TaiCache.Invalidation.InvalidationManager([_cache]);
        await using var scope = tags;
        var adapter = new TaiCacheHybridCache(_cache, tags);
        var key = Key();
        await adapter.SetAsync(key, "v1", tags: ["t", "t2"]);

        // RemoveByTagAsync("t") in its two steps, with the key set again between them.
        var carriers = new TagCarriers(_cache, "t");
        await tags.InvalidateTagAsync("t", TaiCache.Invalidation.InvalidationStrategy.Eager, carriers.FindAsync, default);
        await adapter.SetAsync(key, "v2", tags: ["t2"]);
        await carriers.ForgetAsync(tags, default); // dropped the new entry's t2 membership and its tag list

        await adapter.RemoveByTagAsync("t2");
        Assert.False(await _cache.ExistsAsync(key));
    }

    [Fact]
    public async Task RemoveByTagAsync_ManyTags_RemovesEach()
    {
        var a = Key();
        var b = Key();
        await Cache.SetAsync(a, 1, tags: ["x"]);
        await Cache.SetAsync(b, 2, tags: ["y"]);

        await Cache.RemoveByTagAsync(["x", "y"]);

        Assert.False(await _cache.ExistsAsync(a));
        Assert.False(await _cache.ExistsAsync(b));
    }

    [Fact]
    public async Task RemoveByTagAsync_Wildcard_RemovesEverythingSetThroughTheAdapter()
    {
        var tagged = Key();
        var untagged = Key();
        await Cache.SetAsync(tagged, 1, tags: ["t"]);
        await Cache.GetOrCreateAsync(untagged, _ => ValueTask.FromResult(2));

        await Cache.RemoveByTagAsync("*");

        Assert.False(await _cache.ExistsAsync(tagged));
        Assert.False(await _cache.ExistsAsync(untagged));
    }

    [Fact]
    public async Task SetAsync_ReservedWildcardTag_Throws()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await Cache.SetAsync(Key(), 1, tags: ["*"]));
    }

    [Fact]
    public async Task GetOrCreateAsync_Expiration_ExpiresOnTheClock()
    {
        var key = Key();
        var options = new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), LocalCacheExpiration = TimeSpan.FromMinutes(1) };
        await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("v1"), options);

        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(((InMemoryTier)_cache.Tiers[0]).TryGet<string>(key, out _)); // L1 copy gone
        Assert.Equal("v1", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("v2"), options)); // from L3

        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v3", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("v3"), options));
    }

    [Fact]
    public async Task GetOrCreateAsync_DisableUnderlyingData_ReadsOnly()
    {
        var key = Key();
        var options = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableUnderlyingData };

        Assert.Equal(0, await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult(5), options));
        Assert.False(await _cache.ExistsAsync(key));
        await Cache.SetAsync(key, 6);
        Assert.Equal(6, await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult(5), options));
    }

    [Fact]
    public async Task GetOrCreateAsync_ReadsDisabled_CallsFactoryAndStores()
    {
        var key = Key();
        await Cache.SetAsync(key, "old");
        var options = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheRead | HybridCacheEntryFlags.DisableDistributedCacheRead };

        Assert.Equal("new", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("new"), options));
        Assert.Equal("new", (await _cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetOrCreateAsync_BothWritesDisabled_ReturnsTheFactoryValueAndStoresNothing()
    {
        var key = Key();
        var options = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite };

        Assert.Equal("per-user", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("per-user"), options));

        Assert.False(await _cache.ExistsAsync(key)); // was stored in both tiers
        Assert.Equal("next", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("next"), options));
    }

    [Fact]
    public async Task GetOrCreateAsync_LocalWriteDisabled_StoresBelowL1Only_WithOneFactoryCall()
    {
        var key = Key();
        var options = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheWrite };
        var calls = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async ValueTask<string> Factory(CancellationToken ct)
        {
            Interlocked.Increment(ref calls);
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            return "big";
        }

        var callers = Enumerable.Range(0, 16).Select(_ => Task.Run(async () => await Cache.GetOrCreateAsync(key, Factory, options))).ToArray();
        await Task.Delay(100);
        release.SetResult();
        Assert.All(await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60)), v => Assert.Equal("big", v));

        Assert.Equal(1, calls);
        Assert.False(((InMemoryTier)_cache.Tiers[0]).TryGet<string>(key, out _)); // was stored in L1 too
        Assert.Equal("big", (await _cache.Tiers[1].GetAsync<string>(key)).Value);
        Assert.Equal("big", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("factory again"), options));
        Assert.False(((InMemoryTier)_cache.Tiers[0]).TryGet<string>(key, out _)); // the L3 hit is not copied up either
    }

    [Fact]
    public async Task SetAsync_LocalWriteDisabled_DropsTheOlderLocalCopy()
    {
        var key = Key();
        await Cache.SetAsync(key, "old");

        await Cache.SetAsync(key, "new", new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheWrite });

        Assert.False(((InMemoryTier)_cache.Tiers[0]).TryGet<string>(key, out _));
        Assert.Equal("new", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("factory")));
    }

    [Fact]
    public async Task SetAsync_DistributedWriteDisabled_WritesL1Only()
    {
        var key = Key();
        await Cache.SetAsync(key, "shared");

        await Cache.SetAsync(key, "local", new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableDistributedCacheWrite });

        Assert.Equal("local", await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult("factory")));
        Assert.Equal("shared", (await _cache.Tiers[1].GetAsync<string>(key)).Value); // was overwritten in L3
    }

    [Fact]
    public async Task GetOrCreateAsync_OneReadDisabled_ReadsOnlyTheOtherSide()
    {
        var onlyBelow = Key();
        await _cache.Tiers[1].SetAsync(onlyBelow, "from L3");
        var skipDistributed = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableDistributedCacheRead };
        Assert.Equal("factory", await Cache.GetOrCreateAsync(onlyBelow, _ => ValueTask.FromResult("factory"), skipDistributed)); // returned L3's value

        var split = Key();
        ((InMemoryTier)_cache.Tiers[0]).Set(split, "local copy", null);
        await _cache.Tiers[1].SetAsync(split, "lower");
        var skipLocal = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheRead };
        Assert.Equal("lower", await Cache.GetOrCreateAsync(split, _ => ValueTask.FromResult("factory"), skipLocal));
    }

    [Fact]
    public async Task GetOrCreateAsync_FactoryThrows_NothingStoredAndErrorSurfaces()
    {
        var key = Key();

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await Cache.GetOrCreateAsync<int>(key, _ => throw new InvalidOperationException("boom"), tags: ["t"]));

        Assert.False(await _cache.ExistsAsync(key));
        Assert.Equal(1, await Cache.GetOrCreateAsync(key, _ => ValueTask.FromResult(1)));
    }

    private static string Key([System.Runtime.CompilerServices.CallerMemberName] string test = "") => $"{nameof(TaiCacheHybridCacheTests)}:{test}:{Guid.NewGuid():N}";
}
