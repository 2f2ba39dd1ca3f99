using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// L1's write marks tell a key's own write from a neighbour's in its write stripe: a write of another key that shares
/// the stripe, made while a load or a copy of the key is on its way, no longer drops the factory's value from every
/// tier (or the copy from L1). A write or removal of the key itself still does.
/// </summary>
public sealed class WriteMarkNeighbourTests
{
    /// <summary>A key and another unique key that shares its write stripe in <paramref name="l1"/>.</summary>
    private (string Key, string Neighbour) KeyAndNeighbour(InMemoryTier l1)
    {
        var key = TierTestKit.Key(this);
        while (true)
        {
            var other = TierTestKit.Key(this);
            if (l1.WriteStripeOf(other) == l1.WriteStripeOf(key))
            {
                return (key, other);
            }
        }
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryWritesAKeyInTheSameStripe_ValueStillStoredInEveryTier()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var (key, neighbour) = KeyAndNeighbour(l1);

        var value = await cache.GetOrSetAsync(key, async ct =>
        {
            await cache.SetAsync(neighbour, "n", cancellationToken: ct); // as the HybridCache adapter writes a tag list
            return "loaded";
        });

        Assert.Equal("loaded", value);
        Assert.Equal("loaded", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.True(l1.TryGet<string>(key, out var copy) && copy == "loaded");
    }

    [Fact]
    public async Task GetOrSetAsync_KeyItselfRemovedFromL1WhileTheFactoryRuns_ValueNotStored()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var (key, neighbour) = KeyAndNeighbour(l1);

        var value = await cache.GetOrSetAsync(key, ct =>
        {
            l1.Remove(key); // as a peer's invalidation removes it
            l1.Remove(neighbour); // and neighbours' writes after it do not hide that
            return new ValueTask<string>("loaded");
        });

        Assert.Equal("loaded", value); // its callers still get it
        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue);
        Assert.False(l1.TryGet<string>(key, out _));
    }

    [Fact]
    public async Task GetAsync_NeighbourWrittenWhileTheL2ReadRuns_CopyKeptInL1()
    {
        var copied = await ReadThroughWhileWritingAsync(static (_, _) => Task.CompletedTask);

        Assert.Equal("from L2", copied);
    }

    [Fact]
    public async Task GetAsync_ManyWritesWhileTheL2ReadRuns_CopyDroppedWhenTheyCannotBeToldApart()
    {
        var copied = await ReadThroughWhileWritingAsync(static async (l1, neighbour) =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                await l1.SetAsync($"{neighbour}:{i}", i); // more writes than are kept by key: the stripe's word is taken
            }
        });

        Assert.Null(copied);
    }

    /// <summary>
    /// Reads a key through L1 from L2, holding the L2 read while a key sharing its L1 write stripe is written (and then
    /// <paramref name="more"/>); returns what L1 holds for the key afterwards, or null.
    /// </summary>
    private async Task<string?> ReadThroughWhileWritingAsync(Func<InMemoryTier, string, Task> more)
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var owned = cache;
        var (key, neighbour) = KeyAndNeighbour(l1);
        await l2.Inner.SetAsync(key, "from L2");
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.GetHold = hold;

        var read = cache.GetAsync<string>(key).AsTask();
        await l2.GetHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await l1.SetAsync(neighbour, "n");
        await more(l1, neighbour);
        hold.SetResult();

        Assert.Equal("from L2", (await read.WaitAsync(TimeSpan.FromSeconds(30))).Value);
        return l1.TryGet<string>(key, out var copy) ? copy : null;
    }
}
