using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Metrics;

namespace TaiCache.Tests.Memory;

/// <summary>Behaviour of <see cref="InMemoryTier"/> beyond the shared contract: bounds, expiry, eviction, concurrency, bad input.</summary>
public sealed class InMemoryTierTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private InMemoryTier Create(long maximumSize = 1000, Func<string, object?, long>? weigher = null, TimeSpan? sliding = null, TimeSpan? defaultTtl = null, bool serialized = false, MetricsCollector? metrics = null) =>
        CreateTier(_time, maximumSize, weigher, sliding, defaultTtl, serialized, metrics);

    /// <summary>A tier on the given clock with the settings these tests vary.</summary>
    internal static InMemoryTier CreateTier(TimeProvider time, long maximumSize = 1000, Func<string, object?, long>? weigher = null, TimeSpan? sliding = null, TimeSpan? defaultTtl = null, bool serialized = false, MetricsCollector? metrics = null) =>
        new(new InMemoryTierOptions
        {
            MaximumSize = maximumSize,
            Weigher = weigher,
            SlidingExpiration = sliding,
            DefaultTtl = defaultTtl,
            StoreSerializedCopies = serialized,
            TimeProvider = time,
            Metrics = metrics,
        });

    private static string Key(string test, object suffix) => $"{nameof(InMemoryTierTests)}:{test}:{suffix}";

    [Fact]
    public async Task CacheOps_AfterDispose_ThrowObjectDisposed_AsTheNetworkBackendsDo()
    {
        var tier = Create();
        await tier.SetAsync("k", 1);
        await tier.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.GetAsync<int>("k"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.SetAsync("k", 2));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.DeleteAsync("k"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.ExistsAsync("k"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.ExpireAsync("k", TimeSpan.FromMinutes(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.GetManyAsync<int>(["k"]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.SetManyAsync([KeyValuePair.Create("k", 3)]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tier.DeleteManyAsync(["k"]));
        Assert.False(tier.TryGet<int>("k", out _)); // emptied; the synchronous API stays usable for owners shutting down
    }

    [Fact]
    public async Task CacheOps_WithACancelledToken_ThrowCancelled_AndChangeNothing()
    {
        var tier = Create();
        await tier.SetAsync("k", 1);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await tier.SetAsync("k", 2, cancellationToken: cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await tier.DeleteAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await tier.SetManyAsync([KeyValuePair.Create("k", 3)], cancellationToken: cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await tier.GetAsync<int>("k", cancelled.Token));
        Assert.Equal(1, (await tier.GetAsync<int>("k")).Value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Constructor_NonPositiveCapacity_ThrowsNamingTheOption(long size)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryTier(new InMemoryTierOptions { MaximumSize = size }));
        Assert.Contains("MaximumSize", e.Message);
    }

    [Fact]
    public void Constructor_NonPositiveDefaultTtlOrSliding_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryTier(new InMemoryTierOptions { DefaultTtl = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryTier(new InMemoryTierOptions { SlidingExpiration = TimeSpan.FromSeconds(-1) }));
    }

    [Fact]
    public void Set_WeigherReturnsNegative_ThrowsAndStoresNothing()
    {
        var cache = Create(weigher: (_, _) => -1);
        var key = Key(nameof(Set_WeigherReturnsNegative_ThrowsAndStoresNothing), 1);
        var e = Assert.Throws<InvalidOperationException>(() => cache.Set(key, "v"));
        Assert.Contains("Weigher", e.Message);
        Assert.DoesNotContain(key, e.Message);
        Assert.Equal(0, cache.Count);
        Assert.False(cache.TryGet<string>(key, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    [InlineData(-1)]
    public void Set_TtlOutOfRange_ThrowsAndStoresNothing(long milliseconds)
    {
        var cache = Create();
        var key = Key(nameof(Set_TtlOutOfRange_ThrowsAndStoresNothing), milliseconds);
        var ttl = milliseconds == -1 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(milliseconds);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Set(key, "v", ttl));
        Assert.False(cache.TryGet<string>(key, out _));
    }

    [Fact]
    public void Compact_FractionOutOfRange_Throws()
    {
        var cache = Create();
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Compact(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Compact(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Compact(double.NaN));
    }

    [Fact]
    public void TryGet_InvalidKey_Throws()
    {
        var cache = Create();
        Assert.Throws<ArgumentNullException>(() => cache.TryGet<string>(null!, out _));
        Assert.Throws<InvalidCacheKeyException>(() => cache.TryGet<string>("", out _));
        Assert.Throws<InvalidCacheKeyException>(() => cache.TryGet<string>("a\nb", out _));
    }

    [Fact]
    public void Set_ManyDistinctKeys_CountNeverExceedsCapacity()
    {
        var cache = Create(maximumSize: 100);
        for (var i = 0; i < 10_000; i++)
        {
            cache.Set(Key(nameof(Set_ManyDistinctKeys_CountNeverExceedsCapacity), i), i);
            Assert.True(cache.Count <= 100, $"count {cache.Count} after {i + 1} writes");
        }

        Assert.Equal(100, cache.Count);
    }

    [Fact]
    public void Set_Weigher_TotalWeightNeverExceedsCapacity()
    {
        var cache = Create(maximumSize: 10_000, weigher: (_, v) => ((string)v!).Length);
        var random = new Random(1);
        for (var i = 0; i < 5_000; i++)
        {
            cache.Set(Key(nameof(Set_Weigher_TotalWeightNeverExceedsCapacity), i % 3000), new string('x', random.Next(0, 500)));
            Assert.True(cache.Weight <= 10_000, $"weight {cache.Weight} after {i + 1} writes");
        }

        Assert.True(cache.Weight > 5_000, "the tier should be reasonably full");
    }

    [Fact]
    public void Set_HeavierThanCapacity_IsRejectedWithSizeAndOldValueLeaves()
    {
        var cache = Create(maximumSize: 100, weigher: (_, v) => ((string)v!).Length);
        var key = Key(nameof(Set_HeavierThanCapacity_IsRejectedWithSizeAndOldValueLeaves), 1);
        var events = new List<CacheEvictionEventArgs>();
        cache.Evicted += (_, e) => events.Add(e);
        cache.Set(key, "small");
        cache.Set(key, new string('x', 101));
        Assert.False(cache.TryGet<string>(key, out _));
        Assert.Equal([EvictionReason.Replaced, EvictionReason.Size], events.Select(e => e.Reason));
        Assert.Equal(0, cache.Weight);
    }

    [Fact]
    public void Set_Ttl_ExpiresOnFakeClockAndReportsRemaining()
    {
        var cache = Create();
        var key = Key(nameof(Set_Ttl_ExpiresOnFakeClockAndReportsRemaining), 1);
        var events = new List<CacheEvictionEventArgs>();
        cache.Evicted += (_, e) => events.Add(e);
        cache.Set(key, "v", TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(cache.TryGet<string>(key, out _));
        var remaining = cache.GetRemainingTtl(key);
        Assert.NotNull(remaining);
        Assert.InRange(remaining.Value, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(1.1));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet<string>(key, out _));
        Assert.Null(cache.GetRemainingTtl(key));
        Assert.Equal(new CacheEvictionEventArgs(key, EvictionReason.Expired).Reason, Assert.Single(events).Reason);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void GetRemainingTtl_NoExpiry_IsInfinite()
    {
        var cache = Create();
        var key = Key(nameof(GetRemainingTtl_NoExpiry_IsInfinite), 1);
        cache.Set(key, 1);
        Assert.Equal(Timeout.InfiniteTimeSpan, cache.GetRemainingTtl(key));
        Assert.Null(cache.GetRemainingTtl(Key(nameof(GetRemainingTtl_NoExpiry_IsInfinite), 2)));
    }

    [Fact]
    public void DefaultTtl_AppliesWhenNoneGiven()
    {
        var cache = Create(defaultTtl: TimeSpan.FromMinutes(1));
        var key = Key(nameof(DefaultTtl_AppliesWhenNoneGiven), 1);
        cache.Set(key, 1);
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(cache.TryGet<int>(key, out _));
    }

    [Fact]
    public void SlidingExpiration_ReadsKeepEntryAliveUntilAbsoluteTtl()
    {
        var cache = Create(sliding: TimeSpan.FromSeconds(10));
        var slid = Key(nameof(SlidingExpiration_ReadsKeepEntryAliveUntilAbsoluteTtl), "slid");
        var capped = Key(nameof(SlidingExpiration_ReadsKeepEntryAliveUntilAbsoluteTtl), "capped");
        var idle = Key(nameof(SlidingExpiration_ReadsKeepEntryAliveUntilAbsoluteTtl), "idle");
        cache.Set(slid, 1);
        cache.Set(capped, 2, TimeSpan.FromSeconds(25));
        cache.Set(idle, 3);
        for (var i = 0; i < 6; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            Assert.True(cache.TryGet<int>(slid, out _), $"read {i}");
            Assert.Equal(i < 4, cache.TryGet<int>(capped, out _)); // alive at 5..20 s, gone at 25 s
        }

        Assert.False(cache.TryGet<int>(idle, out _));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(cache.TryGet<int>(slid, out _));
    }

    [Fact]
    public void ExpiredEntries_AreReclaimedByWritesAndCompactWithoutBeingRead()
    {
        var cache = Create(maximumSize: 10_000);
        var expired = 0;
        cache.Evicted += (_, e) => expired += e.Reason == EvictionReason.Expired ? 1 : 0;
        for (var i = 0; i < 1000; i++)
        {
            cache.Set(Key(nameof(ExpiredEntries_AreReclaimedByWritesAndCompactWithoutBeingRead), i), i, TimeSpan.FromSeconds(1));
        }

        _time.Advance(TimeSpan.FromSeconds(2));
        for (var i = 0; i < 1000; i++)
        {
            cache.Set(Key(nameof(ExpiredEntries_AreReclaimedByWritesAndCompactWithoutBeingRead), $"live{i}"), i);
        }

        Assert.True(expired > 500, $"the incremental sweep reclaimed only {expired} of 1000 expired entries");
        cache.Compact(0);
        Assert.Equal(1000, expired);
        Assert.Equal(1000, cache.Count);
    }

    [Fact]
    public void Compact_Fraction_RemovesThatShare()
    {
        var cache = Create(maximumSize: 1000);
        for (var i = 0; i < 1000; i++)
        {
            cache.Set(Key(nameof(Compact_Fraction_RemovesThatShare), i), i);
        }

        Assert.Equal(250, cache.Compact(0.25));
        Assert.Equal(750, cache.Count);
        Assert.Equal(750, cache.Compact(1));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Evicted_ReportsEachReason()
    {
        var cache = Create(maximumSize: 10);
        var events = new ConcurrentQueue<CacheEvictionEventArgs>();
        cache.Evicted += (_, e) => events.Enqueue(e);
        string K(int i) => Key(nameof(Evicted_ReportsEachReason), i);
        cache.Set(K(0), 0);
        cache.Set(K(0), 1);
        Assert.True(cache.Remove(K(0)));
        cache.Set(K(1), 1, TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(cache.TryGet<int>(K(1), out _));
        for (var i = 100; i < 120; i++)
        {
            cache.Set(K(i), i);
        }

        var reasons = events.Select(e => e.Reason).ToList();
        Assert.Equal([EvictionReason.Replaced, EvictionReason.Removed, EvictionReason.Expired], reasons.Take(3));
        Assert.Equal(10, reasons.Skip(3).Count(r => r == EvictionReason.Size));
        Assert.All(events, e => Assert.StartsWith(nameof(InMemoryTierTests), e.Key));
    }

    [Fact]
    public void Clear_RemovesEverythingAndNotifies()
    {
        var cache = Create();
        var removed = 0;
        cache.Evicted += (_, e) => removed += e.Reason == EvictionReason.Removed ? 1 : 0;
        for (var i = 0; i < 50; i++)
        {
            cache.Set(Key(nameof(Clear_RemovesEverythingAndNotifies), i), i);
        }

        cache.Clear();
        Assert.Equal(0, cache.Count);
        Assert.Equal(50, removed);
        Assert.False(cache.TryGet<int>(Key(nameof(Clear_RemovesEverythingAndNotifies), 3), out _));
        cache.Set(Key(nameof(Clear_RemovesEverythingAndNotifies), 3), 3);
        Assert.True(cache.TryGet<int>(Key(nameof(Clear_RemovesEverythingAndNotifies), 3), out var value));
        Assert.Equal(3, value);
    }

    [Fact]
    public void OneOffScan_DoesNotFlushHotKeys()
    {
        var cache = Create(maximumSize: 1000);
        string Hot(int i) => Key(nameof(OneOffScan_DoesNotFlushHotKeys), $"hot{i}");
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 300; i++)
            {
                if (!cache.TryGet<int>(Hot(i), out _))
                {
                    cache.Set(Hot(i), i);
                }
            }
        }

        for (var i = 0; i < 20_000; i++)
        {
            var scan = Key(nameof(OneOffScan_DoesNotFlushHotKeys), $"scan{i}");
            if (!cache.TryGet<int>(scan, out _))
            {
                cache.Set(scan, i);
            }
        }

        var survivors = Enumerable.Range(0, 300).Count(i => cache.TryGet<int>(Hot(i), out _));
        Assert.True(survivors >= 270, $"only {survivors} of 300 hot keys survived a scan of 20,000 keys through a 1,000-entry cache");
        Assert.True(cache.Count <= 1000);
    }

    [Theory]
    [InlineData(1_200)]
    [InlineData(1_500)]
    public void Loop_SlightlyLargerThanTheTier_KeepsMostOfTheTierHitting(int keys)
    {
        // Keys read in order, again and again, through a tier a little too small for them: LRU misses every read, the
        // best any policy can do is keep a fixed 1,000 of them (1,000 hits per pass). The window must not grow on the
        // misses of keys it let go, since growing only pushes out main entries that come straight back.
        var perPass = LoopHitsPerPass(Create(maximumSize: 1_000), nameof(Loop_SlightlyLargerThanTheTier_KeepsMostOfTheTierHitting), keys, passes: 40, counted: 30);
        Assert.True(perPass >= 820, $"{perPass:F0} hits per pass of {keys:N0} keys through a 1,000-entry tier (1,000 at best)");
    }

    [Fact]
    public void LongLoop_SlightlyLargerThanTheTier_HoldsTheWindowLongerEachTimeTheThrashReturns()
    {
        // The loop above, for 120 passes: each time the window's growth is let go again, it pushes out main entries
        // that come straight back, so the hold on it lengthens each time the thrash comes back at once after it.
        const int keys = 1_500;
        var perPass = LoopHitsPerPass(Create(maximumSize: 1_000), nameof(LongLoop_SlightlyLargerThanTheTier_HoldsTheWindowLongerEachTimeTheThrashReturns), keys, passes: 120, counted: 80);
        Assert.True(perPass >= 940, $"{perPass:F0} hits per pass of {keys:N0} keys through a 1,000-entry tier (1,000 at best)");
    }

    /// <summary>Reads keys 0..keys-1 in order, <paramref name="passes"/> times, setting each miss; returns the hits per pass over the last <paramref name="counted"/> passes.</summary>
    private static double LoopHitsPerPass(InMemoryTier cache, string test, int keys, int passes, int counted)
    {
        long hits = 0;
        for (var pass = 0; pass < passes; pass++)
        {
            for (var i = 0; i < keys; i++)
            {
                var key = Key(test, i);
                if (cache.TryGet<int>(key, out _))
                {
                    hits += pass >= passes - counted ? 1 : 0;
                }
                else
                {
                    cache.Set(key, i);
                }
            }
        }

        return hits / (double)counted;
    }

    [Fact]
    public void Feed_KeysEnterHotAndCool_WindowGrowsLikeRecency()
    {
        // A feed: one new key every 10 requests, each read by Zipf(0.8) over the newest 2,000 keys, so a key is
        // hottest when it arrives and cools as newer ones do. Recency decides here: through 500 entries LRU hits about
        // 51.8% of 600,000 reads, this tier 51.2-51.5%, and 44.6% with the window's growth step fixed at half an entry
        // (the step before it was tuned by the hit rate, see WindowGrowthClimber).
        const int window = 2_000, size = 500, requests = 600_000;
        var cdf = new double[window];
        double sum = 0;
        for (var i = 0; i < window; i++)
        {
            sum += 1 / Math.Pow(i + 1, 0.8);
            cdf[i] = sum;
        }

        var cache = Create(maximumSize: size);
        var random = new Random(42);
        long hits = 0;
        for (var r = 0; r < requests; r++)
        {
            var index = Array.BinarySearch(cdf, random.NextDouble() * sum);
            var id = window - 1 + (r / 10) - (index < 0 ? ~index : index);
            var key = Key(nameof(Feed_KeysEnterHotAndCool_WindowGrowsLikeRecency), id);
            if (cache.TryGet<int>(key, out _))
            {
                hits++;
            }
            else
            {
                cache.Set(key, id);
            }
        }

        var ratio = 100.0 * hits / requests;
        Assert.True(ratio >= 48, $"hit ratio {ratio:F1}% on a feed through {size} entries (window {cache.GetStatistics().WindowMaximum})");
    }

    [Fact]
    public void StackModel_ReuseJustInsideTheCapacity_WindowKeepsReadOrder()
    {
        // An LRU stack model: a new key 20% of the time, else the key at a depth drawn from [90%, 100%) of the capacity
        // in the stack of recent keys, so an LRU of that capacity hits every re-request (80%). The window grows to
        // nearly the whole tier here. Kept in CLOCK order and capped at 99% it hit 66.7% (a read deep in the window
        // counted only when the hand came round); in read order 73-74%; capped at 100% alone 70%; both, 78.9%.
        const int size = 1_000, requests = 400_000;
        var cache = Create(maximumSize: size);
        var stack = new List<int>();
        var random = new Random(5);
        var next = 0;
        long hits = 0, counted = 0;
        for (var r = 0; r < requests; r++)
        {
            int id;
            if (stack.Count < size || random.NextDouble() < 0.2)
            {
                id = next++;
            }
            else
            {
                var depth = (int)(size * (0.9 + (0.1 * random.NextDouble()))) - 1;
                id = stack[^(depth + 1)];
                stack.RemoveAt(stack.Count - 1 - depth);
            }

            stack.Add(id);
            if (stack.Count > 2 * size)
            {
                stack.RemoveAt(0);
            }

            var key = Key(nameof(StackModel_ReuseJustInsideTheCapacity_WindowKeepsReadOrder), id);
            var hit = cache.TryGet<int>(key, out _);
            if (!hit)
            {
                cache.Set(key, id);
            }

            if (r >= requests / 4)
            {
                counted++;
                hits += hit ? 1 : 0;
            }
        }

        var ratio = 100.0 * hits / counted;
        Assert.True(ratio >= 76, $"hit ratio {ratio:F1}% through {size} entries (window {cache.GetStatistics().WindowMaximum})");
    }

    [Fact]
    public void TryGet_WrongType_ThrowsWrongType()
    {
        var cache = Create();
        var key = Key(nameof(TryGet_WrongType_ThrowsWrongType), 1);
        cache.Set(key, "text");
        var e = Assert.Throws<CacheWrongTypeException>(() => cache.TryGet<int>(key, out _));
        Assert.DoesNotContain(key, e.Message);
        Assert.True(cache.TryGet<object>(key, out var asObject));
        Assert.Equal("text", asObject);
    }

    [Fact]
    public void StoreSerializedCopies_ReadAsAnotherType_ThrowsWrongType_AsWithoutCopies()
    {
        foreach (var serialized in new[] { false, true })
        {
            var cache = Create(serialized: serialized);
            var key = Key(nameof(StoreSerializedCopies_ReadAsAnotherType_ThrowsWrongType_AsWithoutCopies), serialized);
            cache.Set(key, 42);

            Assert.Throws<CacheWrongTypeException>(() => cache.TryGet<long>(key, out _));
            Assert.Throws<CacheWrongTypeException>(() => cache.TryGet<string>(key, out _));
            Assert.True(cache.TryGet<int>(key, out var asInt));
            Assert.Equal(42, asInt);
            Assert.True(cache.TryGet<int?>(key, out var asNullable));
            Assert.Equal(42, asNullable);

            cache.Set<object?>(key + ":null", null); // a null has no type to hold against the reader
            Assert.True(cache.TryGet<string?>(key + ":null", out var none));
            Assert.Null(none);
            Assert.True(cache.TryGet<int?>(key + ":null", out var noInt));
            Assert.Null(noInt);
            Assert.Throws<CacheWrongTypeException>(() => cache.TryGet<int>(key + ":null", out _));
        }
    }

    [Fact]
    public void Weigher_ReturningZero_CountsAsOne_SoTheTierStaysBounded_AndSeesSerializedBytesWithCopies()
    {
        var free = Create(maximumSize: 10, weigher: static (_, _) => 0);
        for (var i = 0; i < 1_000; i++)
        {
            free.Set(Key(nameof(Weigher_ReturningZero_CountsAsOne_SoTheTierStaysBounded_AndSeesSerializedBytesWithCopies), i), i);
        }

        Assert.InRange(free.Count, 1, 10);

        var copies = Create(maximumSize: 10_000, weigher: static (_, stored) => ((byte[])stored!).Length, serialized: true);
        copies.Set("k", new string('x', 100));
        Assert.InRange(copies.Weight, 100, 120); // the envelope and MessagePack's string header on top of 100 bytes
    }

    [Fact]
    public void StoreSerializedCopies_MutatingWhatWasReadDoesNotChangeTheCache()
    {
        var cache = Create(serialized: true);
        var key = Key(nameof(StoreSerializedCopies_MutatingWhatWasReadDoesNotChangeTheCache), 1);
        var list = new List<int> { 1, 2 };
        cache.Set(key, list);
        list.Add(3);
        Assert.True(cache.TryGet<List<int>>(key, out var first));
        Assert.Equal([1, 2], first);
        first.Add(4);
        Assert.True(cache.TryGet<List<int>>(key, out var second));
        Assert.Equal([1, 2], second);
        Assert.NotSame(first, second);
    }

    [Fact]
    public async Task StoreSerializedCopies_AddManyWithAValueThatCannotBeSerialized_Throws_AndAddsNothing()
    {
        var cache = Create(serialized: true);
        var adds = (IConditionalWriter)cache;
        var first = Key(nameof(StoreSerializedCopies_AddManyWithAValueThatCannotBeSerialized_Throws_AndAddsNothing), 1);
        var second = Key(nameof(StoreSerializedCopies_AddManyWithAValueThatCannotBeSerialized_Throws_AndAddsNothing), 2);
        var items = new[] { KeyValuePair.Create<string, object>(first, "fine"), KeyValuePair.Create<string, object>(second, new Unserializable()) };

        var ex = await Assert.ThrowsAsync<CacheSerializationException>(async () => await adds.AddManyAsync(items, ttl: null));

        Assert.Equal(second, ex.Key);
        Assert.False(cache.TryGet<string>(first, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Metrics_CountHitsMissesAndSize()
    {
        var metrics = new MetricsCollector("test", "memory");
        var cache = Create(metrics: metrics);
        var key = Key(nameof(Metrics_CountHitsMissesAndSize), 1);
        Assert.False(cache.TryGet<int>(key, out _));
        cache.Set(key, 1);
        Assert.True(cache.TryGet<int>(key, out _));
        Assert.True(cache.TryGet<int>(key, out _));
        Assert.Equal(2, metrics.Hits);
        Assert.Equal(1, metrics.Misses);
    }

    [Fact]
    public async Task ConcurrentReadsWritesRemoves_KeepInvariants()
    {
        const int capacity = 500;
        var cache = Create(maximumSize: capacity);
        var keys = Enumerable.Range(0, 2000).Select(i => Key(nameof(ConcurrentReadsWritesRemoves_KeepInvariants), i)).ToArray();
        var sizeEvictions = 0L;
        cache.Evicted += (_, e) =>
        {
            if (e.Reason == EvictionReason.Size)
            {
                Interlocked.Increment(ref sizeEvictions);
            }
        };
        var failures = new ConcurrentQueue<string>();
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            var random = new Random(w);
            for (var i = 0; i < 50_000; i++)
            {
                var key = keys[random.Next(keys.Length)];
                switch (random.Next(10))
                {
                    case < 6:
                        if (cache.TryGet<string>(key, out var value) && value != key)
                        {
                            failures.Enqueue($"{key} read {value}");
                        }

                        break;
                    case < 9:
                        cache.Set(key, key);
                        break;
                    default:
                        cache.Remove(key);
                        break;
                }

                if (cache.Count > capacity)
                {
                    failures.Enqueue($"count {cache.Count}");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Empty(failures);
        var present = keys.Count(k => cache.TryGet<string>(k, out _));
        Assert.Equal(cache.Count, present);
        Assert.Equal(cache.Count, cache.Weight);
        Assert.True(cache.Count <= capacity);
        Assert.True(Interlocked.Read(ref sizeEvictions) > 0);
    }

    [Fact]
    public async Task SystemClock_TtlEntry_ServedUntilItsTtlAndGoneSoonAfter()
    {
        // With TimeProvider.System the tier keeps time on the OS's millisecond tick: expiry within a tick (<= 20 ms here).
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100 });
        var key = Key(nameof(SystemClock_TtlEntry_ServedUntilItsTtlAndGoneSoonAfter), 1);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        tier.Set(key, "v", TimeSpan.FromMilliseconds(300));
        Assert.True(tier.TryGet<string>(key, out _));
        var remaining = tier.GetRemainingTtl(key);
        Assert.NotNull(remaining);
        Assert.InRange(remaining!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(320));

        while (tier.TryGet<string>(key, out _) && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(5);
        }

        Assert.False(tier.TryGet<string>(key, out _));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(280), $"gone after {watch.Elapsed}, before its 300 ms TTL less one tick");
    }

    /// <summary>A value MessagePack cannot write: its only member throws when read.</summary>
    public sealed class Unserializable
    {
        public int Value
        {
            get => throw new InvalidOperationException("not serializable");
            set => _ = value;
        }
    }
}
