using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// <see cref="MultiTierEntryOptions.SkipMemoryWrite"/> and <see cref="MultiTierEntryOptions.SkipDistributedWrite"/>: a
/// set, a factory's value and a copy upwards leave the skipped tiers out, under every strategy; a skipped memory tier
/// drops its older copy; a skipped lower tier keeps what it held.
/// </summary>
public sealed class SkipWriteTests
{
    private static readonly MultiTierEntryOptions NotInMemory = new() { SkipMemoryWrite = true };
    private static readonly MultiTierEntryOptions MemoryOnly = new() { SkipDistributedWrite = true };

    [Theory]
    [InlineData(WriteStrategy.WriteThrough)]
    [InlineData(WriteStrategy.WriteBehind)]
    public async Task SetAsync_SkipMemoryWrite_WritesBelowAndDropsL1sOlderCopy(WriteStrategy strategy)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.WriteStrategy = strategy);
        await using var owned = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "old");
        await cache.FlushAsync(TimeSpan.FromSeconds(10));

        await cache.SetAsync(key, "new", NotInMemory);
        await cache.FlushAsync(TimeSpan.FromSeconds(10));

        Assert.False(l1.TryGet<string>(key, out string? _));
        Assert.Equal("new", (await l2.GetAsync<string>(key)).Value);
        Assert.Equal("new", (await cache.GetAsync<string>(key, NotInMemory)).Value);
        Assert.False(l1.TryGet<string>(key, out string? _)); // the L2 hit was not copied up
    }

    [Theory]
    [InlineData(WriteStrategy.WriteThrough)]
    [InlineData(WriteStrategy.WriteBehind)]
    public async Task SetAsync_SkipDistributedWrite_WritesL1Only(WriteStrategy strategy)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.WriteStrategy = strategy);
        await using var owned = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "shared");
        await cache.FlushAsync(TimeSpan.FromSeconds(10));
        var l2Sets = l2.SetCalls;

        await cache.SetAsync(key, "local", MemoryOnly);
        var flushed = await cache.FlushAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("local", (await cache.GetAsync<string>(key)).Value);
        Assert.Equal("shared", (await l2.GetAsync<string>(key)).Value);
        Assert.Equal(l2Sets, l2.SetCalls);
        Assert.Equal(0, cache.WriteBehindQueueDepth);
        Assert.True(flushed.Completed);
        Assert.Empty(flushed.UnwrittenKeys);
    }

    [Fact]
    public async Task GetOrSetAsync_SkipMemoryWrite_StoresTheFactoryValueBelowOnly()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var key = TierTestKit.Key(this);

        Assert.Equal(1, await cache.GetOrSetAsync(key, _ => ValueTask.FromResult(1), NotInMemory));
        Assert.False(l1.TryGet<int>(key, out int _));
        Assert.Equal(1, (await l2.GetAsync<int>(key)).Value);

        Assert.Equal(1, await cache.GetOrSetAsync(key, _ => ValueTask.FromResult(2), NotInMemory)); // an L2 hit
        Assert.False(l1.TryGet<int>(key, out int _));
    }

    [Theory]
    [InlineData(WriteStrategy.WriteThrough)]
    [InlineData(WriteStrategy.WriteBehind)]
    public async Task GetOrSetAsync_SkipDistributedWrite_StoresTheFactoryValueInL1Only(WriteStrategy strategy)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.WriteStrategy = strategy);
        await using var owned = cache;
        var key = TierTestKit.Key(this);

        Assert.Equal(1, await cache.GetOrSetAsync(key, _ => ValueTask.FromResult(1), MemoryOnly));
        await cache.FlushAsync(TimeSpan.FromSeconds(10));

        Assert.True(l1.TryGet<int>(key, out var held) && held == 1);
        Assert.False((await l2.GetAsync<int>(key)).HasValue);
        Assert.Equal(0, l2.SetCalls + l2.SetManyCalls);
    }

    [Fact]
    public async Task GetOrSetManyAsync_SkipDistributedWrite_KeepsTheFactoryValuesInL1()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var keys = Enumerable.Range(0, 3).Select(i => TierTestKit.Key(this) + i).ToArray();

        var values = await cache.GetOrSetManyAsync(keys, (missing, _) => ValueTask.FromResult<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, k => k.Length)), MemoryOnly);

        Assert.Equal(3, values.Count);
        Assert.All(keys, k => Assert.True(l1.TryGet<int>(k, out int _)));
        Assert.Equal(0, l2.SetCalls + l2.SetManyCalls);
    }

    [Fact]
    public async Task GetOrSetManyAsync_SkipMemoryWrite_LeavesL1Empty()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var keys = Enumerable.Range(0, 3).Select(i => TierTestKit.Key(this) + i).ToArray();
        await l2.SetAsync(keys[0], 7);

        var values = await cache.GetOrSetManyAsync(keys, (missing, _) => ValueTask.FromResult<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, k => 1)), NotInMemory);

        Assert.Equal(7, values[keys[0]]);
        Assert.All(keys, k => Assert.False(l1.TryGet<int>(k, out int _)));
        Assert.Equal(1, (await l2.GetAsync<int>(keys[2])).Value);
    }
}
