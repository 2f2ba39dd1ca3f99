using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A read that found an older value below L1 and copies it up while a write of the key lands: the copy must not leave
/// L1 holding the older value after the write (it would be served until its TTL, for ever without one).
/// </summary>
public sealed class RacingFillTests
{
    /// <summary>Stores "old" in L2 and starts a read of the key, held after L2 answered and before the copy into L1.</summary>
    private static async Task<(Task<CacheResult<string>> Read, TaskCompletionSource Hold)> ReadHeldAfterL2Async(MultiTierCache cache, FaultyTier l2, string key)
    {
        await l2.SetAsync(key, "old");
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.GetHold = hold;
        var read = cache.GetAsync<string>(key).AsTask();
        await l2.GetHeld.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return (read, hold);
    }
    [Theory]
    [InlineData(WriteStrategy.WriteThrough)]
    [InlineData(WriteStrategy.WriteBehind)]
    public async Task GetAsync_CopyingAnOlderValueWhileASetLands_DoesNotLeaveItInL1(WriteStrategy strategy)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.WriteStrategy = strategy);
        await using var owned = cache;
        var key = TierTestKit.Key(this);
        var (read, hold) = await ReadHeldAfterL2Async(cache, l2, key); // L2 answered "old"; the copy into L1 is yet to come
        await cache.SetAsync(key, "new");
        hold.SetResult();

        Assert.Equal("old", (await read).Value); // what it read, as of before the set
        Assert.Equal("new", (await cache.GetAsync<string>(key)).Value);
        Assert.False(l1.TryGet<string>(key, out var held) && held == "old");
    }

    [Fact]
    public async Task GetAsync_CopyingAnOlderValueWhileADeleteLands_DoesNotBringItBack()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var key = TierTestKit.Key(this);
        var (read, hold) = await ReadHeldAfterL2Async(cache, l2, key);
        await cache.DeleteAsync(key);
        hold.SetResult();
        await read;

        Assert.False((await cache.GetAsync<string>(key)).HasValue);
        Assert.False(l1.TryGet<string>(key, out string? _));
    }

    [Fact]
    public async Task GetAsync_CopyingAnOlderValueWhileTheKeyIsEvictedFromL1_DoesNotKeepIt()
    {
        // What a coherence message does on a peer's write: removes the key from L1 directly.
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var key = TierTestKit.Key(this);
        var (read, hold) = await ReadHeldAfterL2Async(cache, l2, key);
        await l2.Inner.SetAsync(key, "peer's"); // the peer's write, then its invalidation
        l1.Remove(key);
        hold.SetResult();
        await read;

        Assert.Equal("peer's", (await cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetManyAsync_CopyingOlderValuesWhileASetLands_CopiesOnlyTheKeysNotWritten()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var keys = TierTestKit.KeysInDistinctStripes(l1, 2, this);
        var (written, untouched) = (keys[0], keys[1]);
        await l2.SetManyAsync([new(written, "old"), new KeyValuePair<string, string>(untouched, "old")]);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.ReadHold = hold;

        var read = cache.GetManyAsync<string>([written, untouched]).AsTask();
        await l2.ReadHeld.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cache.SetAsync(written, "new");
        hold.SetResult();
        await read;

        Assert.Equal("new", (await cache.GetAsync<string>(written)).Value);
        Assert.True(l1.TryGet<string>(untouched, out var copied) && copied == "old");
    }
}
