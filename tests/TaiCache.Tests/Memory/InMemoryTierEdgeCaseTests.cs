using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace TaiCache.Tests.Memory;

/// <summary>Edge cases of <see cref="InMemoryTier"/>: bounds, expiry, events, batches, disposal, concurrency, scan resistance.</summary>
public sealed class InMemoryTierEdgeCaseTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private InMemoryTier Create(long maximumSize = 1000, Func<string, object?, long>? weigher = null, TimeSpan? sliding = null, TimeSpan? defaultTtl = null, bool serialized = false) =>
        InMemoryTierTests.CreateTier(_time, maximumSize, weigher, sliding, defaultTtl, serialized);

    private static string Key(string test, object suffix) => $"{nameof(InMemoryTierEdgeCaseTests)}:{test}:{suffix}";

    [Theory]
    [InlineData(43)]
    [InlineData(51)]
    [InlineData(100)]
    [InlineData(1000)]
    public void Set_Ttl_EntryIsServedUntilTheLastTickBeforeItsTtl(int milliseconds)
    {
        var tier = Create();
        var key = Key(nameof(Set_Ttl_EntryIsServedUntilTheLastTickBeforeItsTtl), milliseconds);
        var ttl = TimeSpan.FromMilliseconds(milliseconds);
        tier.Set(key, "v", ttl);

        _time.Advance(ttl - TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromTicks(1), tier.GetRemainingTtl(key));
        Assert.True(tier.TryGet<string>(key, out _), $"a {milliseconds} ms TTL expired before {milliseconds} ms had passed");

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.False(tier.TryGet<string>(key, out _));
        Assert.Null(tier.GetRemainingTtl(key));
    }

    [Fact]
    public void TryAdd_EntryHeavierThanTheTier_ReturnsFalse_SinceNothingWasStored()
    {
        var tier = Create(maximumSize: 100, weigher: (_, v) => v is byte[] b ? b.Length : 1);
        var key = Key(nameof(TryAdd_EntryHeavierThanTheTier_ReturnsFalse_SinceNothingWasStored), 1);
        var added = tier.TryAdd(key, new byte[101]);
        Assert.False(tier.TryGet<byte[]>(key, out _));
        Assert.False(added, "TryAdd reported the value stored, but it was rejected at once (heavier than the tier)");
    }

    [Fact]
    public async Task AddManyAsync_EntryHeavierThanTheTier_IsReportedNotAdded()
    {
        var tier = Create(maximumSize: 100, weigher: (_, v) => v is byte[] b ? b.Length : 1);
        var writer = (IConditionalWriter)tier;
        var light = Key(nameof(AddManyAsync_EntryHeavierThanTheTier_IsReportedNotAdded), "light");
        var heavy = Key(nameof(AddManyAsync_EntryHeavierThanTheTier_IsReportedNotAdded), "heavy");
        var added = await writer.AddManyAsync([KeyValuePair.Create(light, new byte[10]), KeyValuePair.Create(heavy, new byte[101])]);
        Assert.True(tier.TryGet<byte[]>(light, out _));
        Assert.False(tier.TryGet<byte[]>(heavy, out _));
        Assert.Equal([true, false], added);
    }

    [Theory]
    [InlineData("AddAsync")]
    [InlineData("AddManyAsync")]
    public async Task ConditionalWrites_AfterDispose_ThrowObjectDisposed_AsTheOtherCacheOpsDo(string operation)
    {
        var tier = Create();
        await tier.DisposeAsync();
        Func<Task> call = operation switch
        {
            "AddAsync" => async () => await ((IConditionalWriter)tier).AddAsync("k", 1),
            _ => async () => await ((IConditionalWriter)tier).AddManyAsync([KeyValuePair.Create("k", 1)]),
        };
        await Assert.ThrowsAsync<ObjectDisposedException>(call);
    }

    [Fact]
    public async Task ConditionalWrites_WithACancelledToken_ThrowCancelled_AndStoreNothing()
    {
        var tier = Create();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await ((IConditionalWriter)tier).AddAsync("a", 1, cancellationToken: cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await ((IConditionalWriter)tier).AddManyAsync([KeyValuePair.Create("b", 1)], cancellationToken: cancelled.Token));
        Assert.Equal(0, tier.Count);
    }

    [Fact]
    public void Weigher_HugeWeightsInAHugeTier_TotalNeverOverflows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(maximumSize: long.MaxValue, weigher: (_, _) => 1));
        var tier = Create(maximumSize: long.MaxValue / 2, weigher: (_, _) => (long.MaxValue / 4) + 1);
        tier.Set(Key(nameof(Weigher_HugeWeightsInAHugeTier_TotalNeverOverflows), 1), 1);
        tier.Set(Key(nameof(Weigher_HugeWeightsInAHugeTier_TotalNeverOverflows), 2), 2);
        Assert.True(tier.Weight > 0, $"weight {tier.Weight}");
        Assert.True(tier.Weight <= tier.MaximumSize);
        Assert.Equal(1, tier.Count);
    }

    [Fact]
    public async Task Set_TimeSpanMaxValue_OnTheSystemClock_IsStoredAndReportsARemainingTtl()
    {
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10 });
        tier.Set("k", 1, TimeSpan.MaxValue);
        Assert.True(tier.TryGet<int>("k", out _));
        Assert.True(tier.GetRemainingTtl("k") > TimeSpan.FromDays(365 * 1000));
        var result = await tier.GetAsync<int>("k");
        Assert.True(result.HasValue);
    }

    [Fact]
    public void Set_TimeSpanMaxValue_OnAFakeClock_IsStoredAndReportsARemainingTtl()
    {
        var tier = Create(sliding: TimeSpan.FromMinutes(1));
        tier.Set("k", 1, TimeSpan.MaxValue);
        Assert.True(tier.TryGet<int>("k", out _));
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(tier.TryGet<int>("k", out _));
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(tier.TryGet<int>("k", out _));
    }

    [Fact]
    public void OneOffScan_InterleavedWithHotReads_HotSetKeepsHitting()
    {
        var tier = Create(maximumSize: 1000);
        string Hot(int i) => Key(nameof(OneOffScan_InterleavedWithHotReads_HotSetKeepsHitting), $"hot{i}");
        for (var i = 0; i < 100; i++)
        {
            tier.Set(Hot(i), i);
        }

        long hits = 0, reads = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var scan = Key(nameof(OneOffScan_InterleavedWithHotReads_HotSetKeepsHitting), $"scan{i}");
            if (!tier.TryGet<int>(scan, out _))
            {
                tier.Set(scan, i);
            }

            var hot = Hot(i % 100);
            reads++;
            if (tier.TryGet<int>(hot, out _))
            {
                hits++;
            }
            else
            {
                tier.Set(hot, i);
            }
        }

        Assert.True(hits >= reads * 0.95, $"hot hit ratio {(double)hits / reads:P1}");
    }

    [Fact]
    public async Task Concurrent_4x200k_MixedOps_OnASmallTier_KeepInvariants()
    {
        const int capacity = 64;
        var tier = Create(maximumSize: capacity, defaultTtl: TimeSpan.FromSeconds(30), sliding: TimeSpan.FromSeconds(10));
        var keys = Enumerable.Range(0, 256).Select(i => Key(nameof(Concurrent_4x200k_MixedOps_OnASmallTier_KeepInvariants), i)).ToArray();
        var failures = new ConcurrentQueue<string>();
        tier.Evicted += (_, e) =>
        {
            if (e.Key is null)
            {
                failures.Enqueue("null key");
            }
        };
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (var i = 0; i < 200_000; i++)
            {
                var key = keys[random.Next(keys.Length)];
                try
                {
                    switch (random.Next(20))
                    {
                        case < 9:
                            if (tier.TryGet<string>(key, out var value) && value != key)
                            {
                                failures.Enqueue($"{key} read {value}");
                            }

                            break;
                        case < 14:
                            tier.Set(key, key);
                            break;
                        case 14:
                            tier.TryAdd(key, key, TimeSpan.FromSeconds(5));
                            break;
                        case 15:
                            tier.Remove(key);
                            break;
                        case 16:
                            var other = keys[random.Next(keys.Length)];
                            await tier.SetManyAsync([KeyValuePair.Create(key, key), KeyValuePair.Create(other, other)]);
                            break;
                        case 17:
                            await tier.ExpireAsync(key, TimeSpan.FromSeconds(1));
                            break;
                        case 18:
                            if (i % 1000 == 0)
                            {
                                tier.Clear();
                            }
                            else
                            {
                                tier.GetRemainingTtl(key);
                            }

                            break;
                        default:
                            if (w == 0 && i % 100 == 0)
                            {
                                _time.Advance(TimeSpan.FromMilliseconds(50));
                            }

                            break;
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex.ToString());
                }

                if (tier.Count > capacity || tier.Count < 0)
                {
                    failures.Enqueue($"count {tier.Count}");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(3)));
        var stats = tier.GetStatistics();
        Assert.True(stats.Count >= 0 && stats.Count <= capacity);
        _time.Advance(TimeSpan.FromMinutes(1));
        tier.Compact();
        Assert.Equal(0, tier.Count);
        Assert.Equal(0, tier.Weight);
    }

    [Fact]
    public void Evicted_HandlerCallingBackIntoTheTier_DoesNotDeadlock()
    {
        var tier = Create(maximumSize: 10);
        var seen = 0;
        tier.Evicted += (_, e) =>
        {
            seen++;
            tier.TryGet<int>(e.Key, out int _);
            tier.Remove(e.Key);
            if (seen < 5)
            {
                tier.Set(e.Key + ":again", 1);
            }
        };
        for (var i = 0; i < 50; i++)
        {
            tier.Set(Key(nameof(Evicted_HandlerCallingBackIntoTheTier_DoesNotDeadlock), i), i);
        }

        tier.Clear();
        Assert.Equal(0, tier.Count);
    }

    [Fact]
    public void Replace_InMain_WithAHeavierValue_KeepsTheNewValue()
    {
        var tier = Create(maximumSize: 100, weigher: (_, v) => v is byte[] b ? b.Length : 1);
        string K(int i) => Key(nameof(Replace_InMain_WithAHeavierValue_KeepsTheNewValue), i);
        for (var i = 0; i < 10; i++)
        {
            tier.Set(K(i), new byte[10]);
        }

        for (var i = 0; i < 10; i++)
        {
            tier.TryGet<byte[]>(K(i), out _);
        }

        tier.Set(K(100), new byte[1]);
        tier.Set(K(3), new byte[60]);
        Assert.True(tier.TryGet<byte[]>(K(3), out var v) && v.Length == 60);
        Assert.True(tier.Weight <= 100);
    }

    [Fact]
    public async Task SetManyAsync_IntoATierFullOfExpiredEntries_StoresTheBatch()
    {
        var tier = Create(maximumSize: 1000);
        string K(string kind, int i) => Key(nameof(SetManyAsync_IntoATierFullOfExpiredEntries_StoresTheBatch), $"{kind}{i}");
        for (var i = 0; i < 1000; i++)
        {
            tier.Set(K("old", i), i, TimeSpan.FromMinutes(1));
        }

        _time.Advance(TimeSpan.FromMinutes(2));
        var sizeEvictions = 0;
        tier.Evicted += (_, e) => sizeEvictions += e.Reason == EvictionReason.Size ? 1 : 0;
        await tier.SetManyAsync(Enumerable.Range(0, 500).Select(i => KeyValuePair.Create(K("new", i), i)));

        var readable = Enumerable.Range(0, 500).Count(i => tier.TryGet<int>(K("new", i), out _));
        Assert.True(readable == 500, $"{readable} of 500 new entries stored ({sizeEvictions} rejected with Size) while the tier held only expired entries");
    }

    [Fact]
    public void StoreSerializedCopies_MutationAfterSet_NullValues_AndWrongTypes_BehaveAsDocumented()
    {
        var tier = Create(serialized: true);
        string K(int i) => Key(nameof(StoreSerializedCopies_MutationAfterSet_NullValues_AndWrongTypes_BehaveAsDocumented), i);
        var list = new List<int> { 1, 2 };
        tier.Set(K(1), list);
        list.Add(3);
        Assert.True(tier.TryGet<List<int>>(K(1), out var read));
        Assert.Equal([1, 2], read);
        read.Add(9);
        Assert.True(tier.TryGet<List<int>>(K(1), out var again));
        Assert.Equal([1, 2], again);

        Assert.Throws<CacheWrongTypeException>(() => tier.TryGet<string>(K(1), out _));
        tier.Set(K(2), 5);
        Assert.Throws<CacheWrongTypeException>(() => tier.TryGet<long>(K(2), out _));
        Assert.True(tier.TryGet<int?>(K(2), out var nullable) && nullable == 5);

        tier.Set<string?>(K(3), null);
        Assert.True(tier.TryGet<string>(K(3), out var s) && s is null);
        Assert.True(tier.TryGet<int?>(K(3), out var n) && n is null);
        Assert.Throws<CacheWrongTypeException>(() => tier.TryGet<int>(K(3), out _));
    }

    [Fact]
    public void StoreSerializedCopies_DerivedValueSetAsItsBaseType_KeepsItsOwnMembers_AndReadsBackAsItself()
    {
        var tier = Create(serialized: true);
        string K(int i) => Key(nameof(StoreSerializedCopies_DerivedValueSetAsItsBaseType_KeepsItsOwnMembers_AndReadsBackAsItself), i);
        tier.Set<CopiedShape>(K(1), new CopiedCircle { Name = "c", Radius = 2.5 });
        tier.Set<object>(K(2), new CopiedCircle { Name = "o", Radius = 4 });
        tier.Set<object>(K(3), 42);

        Assert.True(tier.TryGet<CopiedCircle>(K(1), out var circle));
        Assert.Equal(("c", 2.5), (circle.Name, circle.Radius));
        Assert.True(tier.TryGet<CopiedShape>(K(1), out var shape));
        Assert.Equal(2.5, Assert.IsType<CopiedCircle>(shape).Radius); // as without copies: the value itself, seen as its base
        Assert.True(tier.TryGet<object>(K(2), out var boxed));
        Assert.Equal(4, Assert.IsType<CopiedCircle>(boxed).Radius);
        Assert.True(tier.TryGet<int>(K(3), out var number) && number == 42);
        Assert.Throws<CacheWrongTypeException>(() => tier.TryGet<string>(K(1), out _));
    }

    [Fact]
    public async Task SetManyAsync_WeigherThrowsOnOneItem_StoresNothingOfTheBatch_AndKeepsOldValues()
    {
        var tier = Create(weigher: (k, _) => k.EndsWith(":bad", StringComparison.Ordinal) ? throw new FormatException("bad") : 1);
        string K(object i) => Key(nameof(SetManyAsync_WeigherThrowsOnOneItem_StoresNothingOfTheBatch_AndKeepsOldValues), i);
        tier.Set(K(0), "old");
        await Assert.ThrowsAsync<FormatException>(async () => await tier.SetManyAsync([KeyValuePair.Create(K(0), "new"), KeyValuePair.Create(K(1), "new"), KeyValuePair.Create(K("bad"), "new")]));
        Assert.True(tier.TryGet<string>(K(0), out var v) && v == "old");
        Assert.False(tier.TryGet<string>(K(1), out _));
        Assert.Equal(1, tier.Count);

        Assert.Throws<FormatException>(() => tier.Set(K("bad"), "x"));
        Assert.Equal(1, tier.Count);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tier.SetManyAsync([KeyValuePair.Create(K(5), "x")], TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => tier.TryAdd(K(6), "x", Timeout.InfiniteTimeSpan));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tier.ExpireAsync(K(0), TimeSpan.FromSeconds(-1)));
        Assert.Equal(1, tier.Count);
        Assert.Equal(Timeout.InfiniteTimeSpan, tier.GetRemainingTtl(K(0)));
    }

    [Fact]
    public async Task GetManyAsync_DuplicateKeys_ReturnsEachOnce()
    {
        var tier = Create();
        tier.Set("a", 1);
        var read = await tier.GetManyAsync<int>(["a", "a", "b", "a"]);
        Assert.Equal(1, Assert.Single(read).Value);
    }

    [Fact]
    public void TryAdd_OverAnExpiredEntry_StoresAndReportsTheOldOneExpired()
    {
        var tier = Create();
        var reasons = new List<EvictionReason>();
        tier.Evicted += (_, e) => reasons.Add(e.Reason);
        tier.Set("k", 1, TimeSpan.FromSeconds(10));
        Assert.False(tier.TryAdd("k", 2));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(tier.TryAdd("k", 3));
        Assert.True(tier.TryGet<int>("k", out var v) && v == 3);
        Assert.Equal([EvictionReason.Expired], reasons);
        tier.Set("k", 4);
        Assert.Equal([EvictionReason.Expired, EvictionReason.Replaced], reasons);
        Assert.True(tier.Remove("k"));
        Assert.Equal([EvictionReason.Expired, EvictionReason.Replaced, EvictionReason.Removed], reasons);
    }

    [Fact]
    public async Task SlidingExpiry_ReadsExtendIt_NeverPastTheAbsoluteTtl_OrAShorterExpire()
    {
        var tier = Create(sliding: TimeSpan.FromSeconds(10));
        tier.Set("k", 1, TimeSpan.FromSeconds(25));
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(6));
            Assert.True(tier.TryGet<int>("k", out _));
            Assert.True(tier.GetRemainingTtl("k") <= TimeSpan.FromSeconds(25 - (6 * (i + 1))));
        }

        _time.Advance(TimeSpan.FromSeconds(1)); // 25 s: the absolute bound
        Assert.False(tier.TryGet<int>("k", out _));

        tier.Set("j", 1);
        Assert.True(await tier.ExpireAsync("j", TimeSpan.FromSeconds(3)));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(tier.TryGet<int>("j", out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(tier.TryGet<int>("j", out _));
    }

    [Fact]
    public async Task Concurrent_WeightedTier_ReplacementsChangingWeight_AndClears_KeepWeightWithinTheBound()
    {
        const long capacity = 1_000;
        var tier = Create(maximumSize: capacity, weigher: (_, v) => v is byte[] b ? b.Length : 1);
        var keys = Enumerable.Range(0, 300).Select(i => Key(nameof(Concurrent_WeightedTier_ReplacementsChangingWeight_AndClears_KeepWeightWithinTheBound), i)).ToArray();
        var failures = new ConcurrentQueue<string>();
        long sizeEvents = 0, expiredEvents = 0;
        tier.Evicted += (_, e) =>
        {
            if (e.Reason == EvictionReason.Size)
            {
                Interlocked.Increment(ref sizeEvents);
            }
            else if (e.Reason == EvictionReason.Expired)
            {
                Interlocked.Increment(ref expiredEvents);
            }
        };
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            var random = new Random(100 + w);
            for (var i = 0; i < 100_000; i++)
            {
                var key = keys[random.Next(keys.Length)];
                try
                {
                    switch (random.Next(10))
                    {
                        case < 4:
                            if (tier.TryGet<byte[]>(key, out var v) && v.Length > 1_200)
                            {
                                failures.Enqueue("impossible value");
                            }

                            break;
                        case < 8:
                            tier.Set(key, new byte[random.Next(0, 1_200)], random.Next(3) == 0 ? TimeSpan.FromMilliseconds(random.Next(1, 500)) : null);
                            break;
                        case 8:
                            tier.Remove(key);
                            break;
                        default:
                            if (w == 0 && i % 500 == 0)
                            {
                                tier.Clear();
                            }
                            else if (w == 1 && i % 50 == 0)
                            {
                                _time.Advance(TimeSpan.FromMilliseconds(20));
                            }

                            break;
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex.ToString());
                }

                var weight = tier.Weight;
                if (weight > capacity || weight < 0 || tier.Count < 0)
                {
                    failures.Enqueue($"weight {weight} count {tier.Count}");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(3)));
        tier.Compact(); // reclaims whatever expired, so what is readable is all there is
        long present = 0, presentWeight = 0;
        foreach (var k in keys)
        {
            if (tier.TryGet<byte[]>(k, out var v))
            {
                present++;
                presentWeight += Math.Max(1, v.Length);
            }
        }

        var stats = tier.GetStatistics();
        Assert.Equal(present, stats.Count);
        Assert.Equal(presentWeight, stats.Weight);
        Assert.True(stats.Weight <= capacity);
        Assert.Equal(Interlocked.Read(ref sizeEvents), stats.SizeEvictions);
        Assert.Equal(Interlocked.Read(ref expiredEvents), stats.ExpiredEvictions);
    }

    [Fact]
    public void Evicted_HandlerThrows_TheTierIsUpdatedAndTheCallerSeesTheException()
    {
        var tier = Create();
        tier.Set("k", 1);
        tier.Evicted += (_, _) => throw new InvalidOperationException("handler");
        Assert.Throws<InvalidOperationException>(() => tier.Set("k", 2));
        Assert.True(tier.TryGet<int>("k", out var v) && v == 2);
        Assert.Equal(1, tier.Count);
    }

    [Fact]
    public void Evicted_IsRaisedOutsideTheLock_AnotherThreadCanWriteFromAHandler()
    {
        var tier = Create(maximumSize: 10);
        var completed = true;
        tier.Evicted += (_, e) =>
        {
            if (e.Reason == EvictionReason.Replaced)
            {
                completed &= Task.Run(() => tier.Set("other", 1)).Wait(TimeSpan.FromSeconds(5));
            }
        };
        tier.Set("k", 1);
        tier.Set("k", 2);
        Assert.True(completed, "a write from another thread blocked while the handler ran: the lock was held");
        Assert.True(tier.TryGet<int>("other", out _));
    }
}

/// <summary>A base type for the serialized-copy tests.</summary>
public class CopiedShape
{
    /// <summary>Gets or sets the name.</summary>
    public string Name { get; set; } = "";
}

/// <summary>A derived type with a member of its own.</summary>
public sealed class CopiedCircle : CopiedShape
{
    /// <summary>Gets or sets the radius.</summary>
    public double Radius { get; set; }
}
