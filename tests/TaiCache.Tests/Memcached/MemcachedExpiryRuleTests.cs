using TaiCache.Memcached;

namespace TaiCache.Tests.Memcached;

/// <summary>The rule that decides a memcached hit's expiry from its envelope's record and the server's seconds left.</summary>
public sealed class MemcachedExpiryRuleTests
{
    private const long Now = 1_800_000_000_000;

    [Theory]
    // Written with a 1.3 s TTL (exptime 3): right after, and just before the server's next tick.
    [InlineData(1_300, 3, true)]
    [InlineData(400, 3, true)]
    [InlineData(100, 2, true)]
    // Written with a whole 10 s TTL (exptime 11), the server's clock (which lags real time by up to a second) ticking
    // right after: 10 seconds left on the server, as many on the record. It was set aside, reported 1 s early.
    [InlineData(9_990, 10, true)]
    [InlineData(10_000, 10, true)]
    // The record has passed, the server still holds it for its extra second.
    [InlineData(-1, 2, false)]
    [InlineData(-900, 1, false)]
    public void RecordThatMatchesTheServersSeconds_Decides(long recordLeftMs, int serverSeconds, bool live)
    {
        Assert.Equal(live, MemcachedExpiry.IsLive(Now + recordLeftMs, serverSeconds, Now, out var expiresAt));
        Assert.Equal(Now + recordLeftMs, expiresAt);
    }

    [Theory]
    [InlineData(-5_000, 600)] // touched by another client: the server keeps it 600 s more
    [InlineData(40_000, 11)] // the writer's clock is 30 s ahead
    [InlineData(-20_000, 11)] // the writer's clock is 30 s behind
    public void RecordThatTheServersSecondsContradict_IsSetAside(long recordLeftMs, int serverSeconds)
    {
        Assert.True(MemcachedExpiry.IsLive(Now + recordLeftMs, serverSeconds, Now, out var expiresAt));
        Assert.Equal(Now + ((serverSeconds - 1) * 1000L), expiresAt);
    }

    [Fact]
    public void ItemsWithoutARecord_OrWithoutServerSeconds()
    {
        Assert.True(MemcachedExpiry.IsLive(0, 5, Now, out var counter)); // a counter with a TTL
        Assert.Equal(Now + 4_000, counter);
        Assert.True(MemcachedExpiry.IsLive(0, -1, Now, out var forever));
        Assert.Equal(0, forever);
        Assert.True(MemcachedExpiry.IsLive(Now + 5_000, -1, Now, out var touchedToNever));
        Assert.Equal(0, touchedToNever);
        Assert.False(MemcachedExpiry.IsLive(Now - 1, null, Now, out _)); // no seconds reported: the record alone
        Assert.True(MemcachedExpiry.IsLive(Now + 1, null, Now, out var recordOnly));
        Assert.Equal(Now + 1, recordOnly);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(3, true)]
    [InlineData(4, false)]
    [InlineData(-1, false)]
    public void OnlyAnItemsLastSeconds_NeedItsValueToTellIfItExpired(int serverSeconds, bool mayHave) =>
        Assert.Equal(mayHave, MemcachedExpiry.MayHaveExpired(serverSeconds));

    [Fact]
    public void TouchThatCannotRewriteTheRecord_NeverLetsTheRecordEndTheValueBeforeTheTtlAsked()
    {
        // Every old record (1-20 s left), new TTL (1-25 s), phase of the server's second and age of the item: when the
        // old record decides, it does not end the value more than the server's own rounding before the TTL asked.
        for (long left = 1_000; left <= 20_000; left += 250)
        {
            for (var ttlSeconds = 1; ttlSeconds <= 25; ttlSeconds++)
            {
                var asked = ttlSeconds + MemcachedExpiry.ExtraSeconds;
                var exptime = MemcachedExpiry.TouchExptimeSettingAside(Now + left, Now, asked);
                Assert.InRange(exptime, asked, asked + 5);
                for (var phase = 0; phase < 1_000; phase += 100)
                {
                    for (long age = 0; age < (exptime * 1000) - phase - 1; age += 250)
                    {
                        var remaining = (exptime * 1000) - phase - age;
                        var serverSeconds = (int)((remaining + 999) / 1000);
                        if (MemcachedExpiry.IsLive(Now + left - age, serverSeconds, Now, out var expiresAt) && expiresAt == Now + left - age)
                        {
                            Assert.True(left >= (ttlSeconds * 1000L) - 1000, $"record {left} ms, TTL {ttlSeconds} s: exptime {exptime}, age {age}, phase {phase}");
                        }
                    }
                }
            }
        }
    }
}
