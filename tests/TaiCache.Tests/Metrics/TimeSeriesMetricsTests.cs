using Microsoft.Extensions.Time.Testing;
using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

public sealed class TimeSeriesMetricsTests
{
    private static MetricsCollector NewCollector(string test, TimeProvider time) =>
        new($"{nameof(TimeSeriesMetricsTests)}:{test}:{Guid.NewGuid():N}", "memory", time, new MetricsCollectorOptions { PublishToMeter = false });

    [Fact]
    public void Tick_MoreThanCapacity_KeepsNewestOldestFirst()
    {
        var time = new FakeTimeProvider();
        var c = NewCollector(nameof(Tick_MoreThanCapacity_KeepsNewestOldestFirst), time);
        using var series = new TimeSeriesMetrics(c, TimeSpan.FromSeconds(1), capacity: 5);

        for (var i = 0; i < 8; i++)
        {
            c.RecordHit();
            series.Tick();
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var snapshots = series.GetSnapshots();
        Assert.Equal(5, series.Count);
        Assert.Equal([4L, 5, 6, 7, 8], snapshots.Select(s => s.Hits));
        Assert.Equal(8, series.Latest!.Hits);
        Assert.Equal(4, series.GetIntervals(100).Count);
    }

    [Fact]
    public void Start_FakeClockAdvances_TimerTakesSnapshotsAtTheInterval()
    {
        var time = new FakeTimeProvider();
        var c = NewCollector(nameof(Start_FakeClockAdvances_TimerTakesSnapshotsAtTheInterval), time);
        using var series = new TimeSeriesMetrics(c, TimeSpan.FromSeconds(10), capacity: 100);
        var ticks = 0;
        series.Ticked += (_, _) => Interlocked.Increment(ref ticks);

        series.Start();
        for (var i = 0; i < 6; i++)
        {
            c.RecordHit();
            time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(7, series.Count); // one at start, one per interval
        Assert.Equal(7, Volatile.Read(ref ticks));
        var intervals = series.GetIntervals(6);
        Assert.All(intervals, m => Assert.Equal(TimeSpan.FromSeconds(10), m.Uptime));
        Assert.All(intervals, m => Assert.Equal(1, m.Hits));

        series.Dispose();
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(7, series.Count);
    }

    [Fact]
    public void GetHitRateTrend_ImprovingThenWorsening_SignFollows()
    {
        var time = new FakeTimeProvider();
        var c = NewCollector(nameof(GetHitRateTrend_ImprovingThenWorsening_SignFollows), time);
        using var series = new TimeSeriesMetrics(c, TimeSpan.FromSeconds(1), capacity: 20);
        series.Tick();

        // Hit rate 50%, 60%, 70%, 80%, 90%: +0.1 per interval.
        for (var step = 5; step <= 9; step++)
        {
            Record(c, hits: step * 10, misses: 100 - (step * 10));
            time.Advance(TimeSpan.FromSeconds(1));
            series.Tick();
        }

        Assert.Equal([0.5, 0.6, 0.7, 0.8, 0.9], series.GetHitRates(5).Select(r => Math.Round(r, 10)));
        Assert.Equal(0.1, series.GetHitRateTrend(5), 9);

        // Then 90% down to 30%: -0.2 per interval over the last four.
        foreach (var hits in new[] { 70, 50, 30 })
        {
            Record(c, hits, 100 - hits);
            time.Advance(TimeSpan.FromSeconds(1));
            series.Tick();
        }

        Assert.Equal(-0.2, series.GetHitRateTrend(4), 9);
        Assert.Equal(0.5, series.GetWindow(3)!.HitRate, 9);
    }

    [Fact]
    public void GetLatencyTrend_SlowingHits_ReportsEachIntervalsPercentile()
    {
        var time = new FakeTimeProvider();
        var c = NewCollector(nameof(GetLatencyTrend_SlowingHits_ReportsEachIntervalsPercentile), time);
        using var series = new TimeSeriesMetrics(c, TimeSpan.FromSeconds(1));
        series.Tick();
        double[] latencies = [10, 20, 40, 80];
        foreach (var us in latencies)
        {
            for (var i = 0; i < 100; i++)
            {
                c.RecordHit(TimeSpan.FromMicroseconds(us));
                c.RecordMiss(TimeSpan.FromMicroseconds(us * 10));
            }

            time.Advance(TimeSpan.FromSeconds(1));
            series.Tick();
        }

        var hitP99 = series.GetLatencyTrend(4, 99);
        var missP50 = series.GetLatencyTrend(4, 50, misses: true);
        for (var i = 0; i < latencies.Length; i++)
        {
            Assert.InRange(hitP99[i], latencies[i] * (1 - LatencyDistribution.RelativeError), latencies[i] * (1 + LatencyDistribution.RelativeError));
            Assert.InRange(missP50[i], latencies[i] * 10 * (1 - LatencyDistribution.RelativeError), latencies[i] * 10 * (1 + LatencyDistribution.RelativeError));
        }

        var window = series.GetWindow(2)!;
        Assert.Equal(200, window.HitLatency.Count);
    }

    [Fact]
    public void GetWindow_FewerThanTwoSnapshots_IsNull()
    {
        var c = NewCollector(nameof(GetWindow_FewerThanTwoSnapshots_IsNull), new FakeTimeProvider());
        using var series = new TimeSeriesMetrics(c, TimeSpan.FromSeconds(1));
        Assert.Null(series.GetWindow(1));
        Assert.Null(series.Latest);
        series.Tick();
        Assert.Null(series.GetWindow(1));
        Assert.Empty(series.GetIntervals(3));
        Assert.Equal(0, series.GetHitRateTrend(3));
    }

    [Fact]
    public void Checker_OnWindow_SeesRecentTroubleHiddenByHistory()
    {
        var time = new FakeTimeProvider();
        var c = NewCollector(nameof(Checker_OnWindow_SeesRecentTroubleHiddenByHistory), time);
        using var series = new TimeSeriesMetrics(c, TimeSpan.FromSeconds(1));
        Record(c, 10_000, 0);
        series.Tick();
        Record(c, 100, 900);
        time.Advance(TimeSpan.FromSeconds(1));
        series.Tick();

        var checker = new SloChecker();
        Assert.True(checker.Check(series.Latest!).IsMet); // cumulative: 92% hits
        Assert.False(checker.Check(series.GetWindow(1)!).IsMet); // last interval: 10% hits
    }

    private static void Record(MetricsCollector c, int hits, int misses)
    {
        for (var i = 0; i < hits; i++)
        {
            c.RecordHit();
        }

        for (var i = 0; i < misses; i++)
        {
            c.RecordMiss();
        }
    }
}
