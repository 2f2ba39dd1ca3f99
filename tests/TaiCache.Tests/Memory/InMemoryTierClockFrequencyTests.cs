namespace TaiCache.Tests.Memory;

/// <summary>
/// Expiry on clocks of every timestamp frequency <see cref="InMemoryTier"/> converts a TTL for (each has its own integer
/// path): an entry lives exactly its TTL rounded up to the clock's tick, and a TTL too long to count in ticks never
/// overflows into one already past.
/// </summary>
public sealed class InMemoryTierClockFrequencyTests
{
    /// <summary>A clock of any frequency that moves only by hand.</summary>
    private sealed class ManualClock(long frequency) : TimeProvider
    {
        private long _now = 1_000_000;

        public override long TimestampFrequency => frequency;

        public override long GetTimestamp() => Volatile.Read(ref _now);

        public void Advance(long ticks) => Interlocked.Add(ref _now, ticks);
    }

    public static TheoryData<long> Frequencies => new()
    {
        1_000,          // milliseconds (the coarse clock's frequency)
        TimeSpan.TicksPerSecond,
        1_000_000_000,  // nanoseconds (Stopwatch on Linux)
        1_000_000,      // microseconds (coarser than a TimeSpan tick, another divisor)
        3,              // neither divides the other
    };

    [Theory]
    [MemberData(nameof(Frequencies))]
    public async Task Set_EntryLivesItsTtlRoundedUpToTheClocksTick(long frequency)
    {
        var clock = new ManualClock(frequency);
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, TimeProvider = clock });
        var ttl = TimeSpan.FromMilliseconds(43); // 0.043 s x 10^7 came out a hair short in doubles once

        // The TTL in this clock's ticks, rounded up (at least one).
        var ticks = Math.Max(1, (long)Math.Ceiling((decimal)ttl.Ticks * frequency / TimeSpan.TicksPerSecond));
        tier.Set("k", 1, ttl);

        clock.Advance(ticks - 1);
        Assert.True(tier.TryGet<int>("k", out _), $"expired a tick early at frequency {frequency}");
        clock.Advance(1);
        Assert.False(tier.TryGet<int>("k", out _), $"outlived its TTL at frequency {frequency}");
    }

    [Theory]
    [MemberData(nameof(Frequencies))]
    public async Task Set_TtlTooLongForTheClock_DoesNotOverflowIntoThePast(long frequency)
    {
        var clock = new ManualClock(frequency);
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, TimeProvider = clock });
        tier.Set("k", 1, TimeSpan.MaxValue);

        clock.Advance(frequency * 60 * 60 * 24 * 365); // a year later
        Assert.True(tier.TryGet<int>("k", out _));
        Assert.True(tier.GetRemainingTtl("k") > TimeSpan.FromDays(365));
    }
}
