using Microsoft.Extensions.Time.Testing;

namespace TaiCache.Tests.Memory;

/// <summary>
/// A value just set is readable right after, whatever the tier's bound (count or weight) and whatever the window's
/// share; it competes for a place when a later write pushes it out of the window. And a write that yields to a live
/// entry is not a read of it.
/// </summary>
public sealed class InMemoryTierNewEntryTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Set_WeightedTierFull_AnEntryHeavierThanTheWindowIsReadableRightAfter()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000, Weigher = static (_, v) => ((byte[])v!).Length, TimeProvider = _time });
        for (var i = 0; i < 50; i++)
        {
            tier.Set($"old:{i}", new byte[200]);
            Assert.True(tier.TryGet<byte[]>($"old:{i}", out _));
        }

        var missedRightAfter = 0;
        for (var i = 0; i < 2_000; i++)
        {
            tier.Set($"new:{i}", new byte[200]);
            missedRightAfter += tier.TryGet<byte[]>($"new:{i}", out _) ? 0 : 1;
            Assert.True(tier.Weight <= 10_000, $"weight {tier.Weight} over the bound");
        }

        Assert.Equal(0, missedRightAfter);
    }

    [Fact]
    public async Task Set_WeightOfOneAndATinyBound_ANewKeyIsKept()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 50, Weigher = static (_, _) => 1, TimeProvider = _time });
        for (var i = 0; i < 50; i++)
        {
            tier.Set($"old:{i}", i);
            _ = tier.TryGet<int>($"old:{i}", out _);
        }

        tier.Set("new", 1);

        Assert.True(tier.TryGet<int>("new", out var value));
        Assert.Equal(1, value);
        Assert.True(tier.Count <= 50);
    }

    [Fact]
    public async Task Set_CountBoundedTierFull_EverySetThenReadHits()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 200, TimeProvider = _time });
        var missedRightAfter = 0;
        for (var i = 0; i < 2_000; i++)
        {
            tier.Set($"k:{i}", i);
            missedRightAfter += tier.TryGet<int>($"k:{i}", out _) ? 0 : 1;
        }

        Assert.Equal(0, missedRightAfter);
        Assert.True(tier.Count <= 200);
    }

    [Fact]
    public async Task Set_ScanOfHeavyEntries_DoesNotFlushTheHotSet()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000, Weigher = static (_, v) => ((byte[])v!).Length, TimeProvider = _time });
        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 40; i++)
            {
                if (!tier.TryGet<byte[]>($"hot:{i}", out _))
                {
                    tier.Set($"hot:{i}", new byte[200]);
                }
            }
        }

        for (var i = 0; i < 5_000; i++)
        {
            tier.Set($"scan:{i}", new byte[200]); // each read once, right after its write
            Assert.True(tier.TryGet<byte[]>($"scan:{i}", out _));
        }

        var hotLeft = Enumerable.Range(0, 40).Count(i => tier.TryGet<byte[]>($"hot:{i}", out _));
        Assert.True(hotLeft >= 38, $"{hotLeft} of 40 hot entries survived the scan");
    }

    [Fact]
    public async Task TryAdd_RefusedByALiveEntry_DoesNotExtendItsSlidingExpiry()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { SlidingExpiration = TimeSpan.FromSeconds(60), TimeProvider = _time });
        tier.Set("k", 1);
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(50));
            if (!tier.TryAdd("k", 2))
            {
                continue;
            }

            Assert.True(i >= 1, "the entry was live at the first add"); // it ended at 60 s unread, so a later add stores
            return;
        }

        Assert.Fail("every add was refused: the refusals kept the unread entry alive");
    }

    [Fact]
    public async Task AddManyAsync_RefusedByALiveEntry_DoesNotExtendItsSlidingExpiry()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { SlidingExpiration = TimeSpan.FromSeconds(60), TimeProvider = _time });
        tier.Set("k", 1);
        _time.Advance(TimeSpan.FromSeconds(50));
        var added = await ((IConditionalWriter)tier).AddManyAsync([KeyValuePair.Create("k", 2)]);
        Assert.False(Assert.Single(added));

        _time.Advance(TimeSpan.FromSeconds(11));

        Assert.False(tier.TryGet<int>("k", out _)); // 61 s without a read
    }
}
