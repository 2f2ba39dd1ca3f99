using TaiCache.Tiering;
namespace TaiCache.Tests.Tiering;

public sealed class ReadStrategyTests
{
    public readonly record struct Point(int X, int Y);

    public sealed class Poco
    {
        public int Id { get; set; }
    }

    [Fact]
    public async Task GetAsync_ReadThrough_LowerHitFillsUpperTiers()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, "deep");
        var result = await cache.GetAsync<string>(key);
        Assert.Equal("deep", result.Value);
        Assert.True(l1.TryGet<string>(key, out var v1) && v1 == "deep");
        Assert.Equal("deep", (await l2.Inner.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetAsync_LazyLoad_LowerHitFillsNothing()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(o => o.ReadStrategy = ReadStrategy.LazyLoad, withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, "deep");
        Assert.Equal("deep", (await cache.GetAsync<string>(key)).Value);
        Assert.False(l1.TryGet<string>(key, out _));
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.Equal(3, cache.Tiers.Count);
    }

    [Fact]
    public async Task GetOrSetAsync_Miss_FactoryValueStoredInEveryTier()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var value = await cache.GetOrSetAsync(key, 7, static (s, _) => new ValueTask<int>(s * 6));
        Assert.Equal(42, value);
        Assert.True(l1.TryGet<int>(key, out var v1) && v1 == 42);
        Assert.Equal(42, (await l2.Inner.GetAsync<int>(key)).Value);
    }

    [Fact]
    public async Task GetOrSetAsync_L1Hit_CompletesSynchronouslyWithoutAllocating()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keyInt = TierTestKit.Key(this) + ":int";
        var keyPoint = TierTestKit.Key(this) + ":point";
        var keyPoco = TierTestKit.Key(this) + ":poco";
        await cache.SetAsync(keyInt, 5);
        await cache.SetAsync(keyPoint, new Point(1, 2));
        await cache.SetAsync(keyPoco, new Poco { Id = 3 });
        Func<int, CancellationToken, ValueTask<int>> fi = static (_, _) => new ValueTask<int>(0);
        Func<int, CancellationToken, ValueTask<Point>> fp = static (_, _) => default;
        Func<int, CancellationToken, ValueTask<Poco>> fo = static (_, _) => new ValueTask<Poco>(new Poco());

        var warm = Measure(cache, keyInt, keyPoint, keyPoco, fi, fp, fo);
        var measured = Measure(cache, keyInt, keyPoint, keyPoco, fi, fp, fo);

        Assert.True(warm.AllSync);
        Assert.True(measured.AllSync);
        Assert.Equal((5, new Point(1, 2), 3), measured.Values);
        Assert.Equal(0, measured.Bytes);
    }

    private static (long Bytes, bool AllSync, (int, Point, int) Values) Measure(
        MultiTierCache cache, string keyInt, string keyPoint, string keyPoco,
        Func<int, CancellationToken, ValueTask<int>> fi, Func<int, CancellationToken, ValueTask<Point>> fp, Func<int, CancellationToken, ValueTask<Poco>> fo)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var t1 = cache.GetOrSetAsync(keyInt, 0, fi);
        var t2 = cache.GetOrSetAsync(keyPoint, 0, fp);
#pragma warning disable CA2012 // Completion is checked below before any result is read.
        var t3 = cache.GetOrSetAsync(keyPoco, 0, fo);
#pragma warning restore CA2012
        var after = GC.GetAllocatedBytesForCurrentThread();
        var allSync = t1.IsCompletedSuccessfully && t2.IsCompletedSuccessfully && t3.IsCompletedSuccessfully;
        return allSync
            ? (after - before, true, (t1.GetAwaiter().GetResult(), t2.GetAwaiter().GetResult(), t3.GetAwaiter().GetResult().Id))
            : (after - before, false, default);
    }

    [Fact]
    public async Task GetOrSetManyAsync_ReadsEachTierOnce_FactoryGetsOnlyMissingKeys()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var keys = Enumerable.Range(0, 10).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        l1.Set(keys[0], 0);
        await l2.Inner.SetAsync(keys[1], 1);
        await l2.Inner.SetAsync(keys[2], 2);
        await l3!.Inner.SetAsync(keys[3], 3);
        var factoryCalls = 0;
        IReadOnlyList<string>? asked = null;

        var result = await cache.GetOrSetManyAsync<int>(keys, (missing, _) =>
        {
            factoryCalls++;
            asked = missing;
            return new ValueTask<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, k => int.Parse(k[(k.LastIndexOf(':') + 1)..]) ));
        });

        Assert.Equal(10, result.Count);
        Assert.All(keys, k => Assert.Equal(int.Parse(k[(k.LastIndexOf(':') + 1)..]), result[k]));
        Assert.Equal(1, factoryCalls);
        Assert.Equal(keys[4..].Order(StringComparer.Ordinal).ToArray(), asked!.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(1, l2.GetManyCalls);
        Assert.Equal(1, l3.GetManyCalls);
        Assert.Equal(0, l2.GetCalls);
        Assert.All(keys, k => Assert.True(l1.TryGet<int>(k, out _)));
        Assert.Equal(9, (await l2.Inner.GetManyAsync<int>(keys)).Count);
    }

    [Fact]
    public async Task GetOrSetManyAsync_AllInL1_FactoryNotCalled()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = Enumerable.Range(0, 3).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        foreach (var k in keys)
        {
            l1.Set(k, 1);
        }

        var result = await cache.GetOrSetManyAsync<int>(keys, (_, _) => throw new InvalidOperationException("factory must not run"));
        Assert.Equal(3, result.Count);
        Assert.Equal(0, l2.Calls);
    }

    [Fact]
    public async Task GetOrSetManyAsync_KeysGivenTwice_FactoryGetsEachMissingKeyOnce()
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var a = TierTestKit.Key(this) + ":a";
        var b = TierTestKit.Key(this) + ":b";
        var c = TierTestKit.Key(this) + ":c";
        l1.Set(c, 3);
        IReadOnlyList<string>? asked = null;

        var result = await cache.GetOrSetManyAsync<int>([a, b, a, c, b, c], (missing, _) =>
        {
            asked = missing;
            return new ValueTask<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, k => k == a ? 1 : 2));
        });

        Assert.Equal([a, b], asked);
        Assert.Equal(3, result.Count);
        Assert.Equal((1, 2, 3), (result[a], result[b], result[c]));
    }
}
