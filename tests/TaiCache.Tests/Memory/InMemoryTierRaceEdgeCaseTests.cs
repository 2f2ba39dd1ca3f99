namespace TaiCache.Tests.Memory;

/// <summary>Invariants of <see cref="InMemoryTier"/> under parallel reads and writes.</summary>
public sealed class InMemoryTierRaceEdgeCaseTests
{
    /// <summary>A clock that moves one tick on every reading (and by hand), so every read of a sliding tier extends its entry.</summary>
    private sealed class SteppingClock : TimeProvider
    {
        private long _now = 1_000_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Increment(ref _now);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _now, by.Ticks);
    }

    [Fact]
    public async Task ExpireAsync_ShortensAnEntry_WhileASlidingReadExtendsIt_TheEntryIsNeverReturnedPastItsNewTtl()
    {
        var clock = new SteppingClock();
        await using var tier = new InMemoryTier(new InMemoryTierOptions
        {
            MaximumSize = 1000,
            SlidingExpiration = TimeSpan.FromMinutes(10),
            TimeProvider = clock,
        });
        const string key = "k";
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                _ = tier.TryGet<int>(key, out _);
            }
        });

        var outlived = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(4); // failed within 1-3 s here before the fix (0.5-1.3 million rounds)
        var rounds = 0;
        try
        {
            while (DateTime.UtcNow < deadline && outlived == 0)
            {
                rounds++;
                tier.Set(key, rounds, TimeSpan.FromHours(1));
                await tier.ExpireAsync(key, TimeSpan.FromSeconds(1));
                clock.Advance(TimeSpan.FromSeconds(2)); // past the new TTL (and well within the sliding window)
                if (tier.TryGet<int>(key, out _))
                {
                    outlived++;
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await reader;
        }

        Assert.True(outlived == 0, $"after {rounds} rounds, an entry was returned past the TTL ExpireAsync gave it (a sliding read undid the new expiry)");
    }
}
