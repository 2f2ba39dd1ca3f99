using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A tier failing every call, with its circuit breaker off, used to write one warning per call (thousands a second
/// under load); now one a second per tier and kind, carrying how many were held back.
/// </summary>
public sealed class TierFailureLogThrottleTests
{
    [Fact]
    public async Task L2ReadPastTierTimeout_IsLoggedAsTheTiersTimeout_NamingTheTier()
    {
        var logger = new FakeLogger();
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.TierTimeout = TimeSpan.FromMilliseconds(50);
            o.Logger = logger;
        });
        await using var scope = cache;
        l2.Delay = TimeSpan.FromSeconds(2);

        Assert.False((await cache.GetAsync<string>(TierTestKit.Key(this))).HasValue);

        var read = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 4000);
        var error = Assert.IsType<CacheTimeoutException>(read.Exception);
        Assert.Contains("Tier 'L2'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task L2FailingEveryRead_WarnsOnceASecond_WithTheCountOfTheOthers()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logger = new FakeLogger();
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.CircuitBreakerFailureThreshold = 0; // no breaker: every call reaches the dead tier
            o.Logger = logger;
        }, time);
        await using var scope = cache;
        l2.Down = true;
        var key = TierTestKit.Key(this);

        for (var i = 0; i < 100; i++)
        {
            Assert.False((await cache.GetAsync<string>(key + i)).HasValue);
        }

        var reads = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 4000).ToList();
        Assert.Single(reads);
        Assert.Equal("0", reads[0].GetStructuredStateValue("Suppressed"));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
        reads = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 4000).ToList();
        Assert.Equal(2, reads.Count);
        Assert.Equal("99", reads[1].GetStructuredStateValue("Suppressed"));

        // Writes have their own throttle: the first failed write is reported at once.
        await Assert.ThrowsAnyAsync<Exception>(async () => await cache.SetAsync(key, "v"));
        Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 4001);
    }
}
