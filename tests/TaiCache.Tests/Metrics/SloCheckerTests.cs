using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

public sealed class SloCheckerTests
{
    private static MetricsCollector NewCollector(string test) =>
        new($"{nameof(SloCheckerTests)}:{test}:{Guid.NewGuid():N}", "memory", null, new MetricsCollectorOptions { PublishToMeter = false });

    private static void Reads(MetricsCollector c, int hits, int misses, TimeSpan? hitLatency = null, TimeSpan? missLatency = null)
    {
        for (var i = 0; i < hits; i++)
        {
            if (hitLatency is { } h)
            {
                c.RecordHit(h);
            }
            else
            {
                c.RecordHit();
            }
        }

        for (var i = 0; i < misses; i++)
        {
            if (missLatency is { } m)
            {
                c.RecordMiss(m);
            }
            else
            {
                c.RecordMiss();
            }
        }
    }

    [Fact]
    public void Check_HealthyCache_AllDefaultObjectivesMet()
    {
        var c = NewCollector(nameof(Check_HealthyCache_AllDefaultObjectivesMet));
        Reads(c, 900, 100, TimeSpan.FromMicroseconds(5), TimeSpan.FromMicroseconds(400));
        c.RecordEviction(EvictionReason.Size);

        var result = new SloChecker().Check(c);

        Assert.True(result.IsMet, result.ToString());
        Assert.Empty(result.Violations);
        Assert.Equal(5, result.Measurements.Count);
        Assert.Equal(0.9, result.Get(SloObjective.HitRate)!.Measured, 10);
    }

    [Fact]
    public void Check_LowHitRateAndManyEvictions_ListsEachViolationWithMeasuredAndTarget()
    {
        var c = NewCollector(nameof(Check_LowHitRateAndManyEvictions_ListsEachViolationWithMeasuredAndTarget));
        Reads(c, 600, 400);
        for (var i = 0; i < 100; i++)
        {
            c.RecordEviction(EvictionReason.Size);
        }

        var result = new SloChecker().Check(c);

        Assert.False(result.IsMet);
        var byObjective = result.Violations.ToDictionary(v => v.Objective);
        Assert.Equal([SloObjective.HitRate, SloObjective.MissRate, SloObjective.EvictionRate], byObjective.Keys.Order());
        Assert.Equal(0.6, byObjective[SloObjective.HitRate].Measured, 10);
        Assert.Equal(0.8, byObjective[SloObjective.HitRate].Target, 10);
        Assert.Equal(0.4, byObjective[SloObjective.MissRate].Measured, 10);
        Assert.Equal(0.2, byObjective[SloObjective.MissRate].Target, 10);
        Assert.Equal(0.1, byObjective[SloObjective.EvictionRate].Measured, 10);
        Assert.Equal(0.05, byObjective[SloObjective.EvictionRate].Target, 10);
        Assert.Contains("VIOLATED", byObjective[SloObjective.HitRate].ToString());
    }

    [Fact]
    public void Check_SlowTail_ViolatesAtP99ButNotAtP50()
    {
        var c = NewCollector(nameof(Check_SlowTail_ViolatesAtP99ButNotAtP50));
        Reads(c, 970, 0, TimeSpan.FromMicroseconds(10));
        Reads(c, 30, 0, TimeSpan.FromMicroseconds(900));

        var atP99 = new SloChecker(new SloTargets { LatencyPercentile = 99 }).Check(c);
        var atP50 = new SloChecker(new SloTargets { LatencyPercentile = 50 }).Check(c);

        var violation = Assert.Single(atP99.Violations);
        Assert.Equal(SloObjective.HitLatency, violation.Objective);
        Assert.Equal(100, violation.Target, 6);
        Assert.InRange(violation.Measured, 900 * (1 - LatencyDistribution.RelativeError), 900 * (1 + LatencyDistribution.RelativeError));
        Assert.Equal("us", violation.Unit);
        Assert.True(atP50.IsMet);
        Assert.InRange(atP50.Get(SloObjective.HitLatency)!.Measured, 9.5, 10.5);
    }

    [Fact]
    public void Check_SlowMisses_ViolatesMissLatencyOnly()
    {
        var c = NewCollector(nameof(Check_SlowMisses_ViolatesMissLatencyOnly));
        Reads(c, 900, 100, TimeSpan.FromMicroseconds(10), TimeSpan.FromMilliseconds(5));

        var result = new SloChecker(new SloTargets { MinimumRequests = 10 }).Check(c);

        var violation = Assert.Single(result.Violations);
        Assert.Equal(SloObjective.MissLatency, violation.Objective);
        Assert.Equal(1000, violation.Target, 6);
    }

    [Fact]
    public void Check_TooFewReads_RateObjectivesNotJudged()
    {
        var c = NewCollector(nameof(Check_TooFewReads_RateObjectivesNotJudged));
        Reads(c, 1, 9);

        var result = new SloChecker().Check(c);

        Assert.True(result.IsMet);
        Assert.Empty(result.Measurements);
        Assert.Null(result.Get(SloObjective.HitRate));
    }

    [Fact]
    public void Check_TargetsSetToNull_ObjectivesSkipped()
    {
        var c = NewCollector(nameof(Check_TargetsSetToNull_ObjectivesSkipped));
        Reads(c, 100, 900);

        var result = new SloChecker(new SloTargets { MinHitRate = null, MaxMissRate = 0.95 }).Check(c);

        Assert.True(result.IsMet);
        Assert.Null(result.Get(SloObjective.HitRate));
        Assert.NotNull(result.Get(SloObjective.MissRate));
    }

    [Fact]
    public void ViolationChanged_StartsThenStops_RaisedOncePerTransition()
    {
        var c = NewCollector(nameof(ViolationChanged_StartsThenStops_RaisedOncePerTransition));
        var checker = new SloChecker(new SloTargets { MaxMissRate = null, MaxEvictionRate = null, MaxHitLatency = null, MaxMissLatency = null });
        var events = new List<SloViolationChangedEventArgs>();
        checker.ViolationChanged += (_, e) => events.Add(e);

        Reads(c, 900, 100);
        var first = c.GetSnapshot();
        checker.Check(first); // met: no transition from the initial "met" state
        Assert.Empty(events);

        Reads(c, 100, 900);
        var second = c.GetSnapshot();
        checker.Check(second.Since(first)); // 10% hits in this interval: starts being violated
        checker.Check(second.Since(first)); // still violated: no new event
        var started = Assert.Single(events);
        Assert.True(started.IsViolated);
        Assert.Equal(SloObjective.HitRate, started.Objective);
        Assert.Equal(c.CacheName, started.CacheName);
        Assert.Equal(0.1, started.Measurement.Measured, 10);
        Assert.True(checker.IsViolated(c.CacheName, c.TierName, SloObjective.HitRate));

        Reads(c, 1000, 0);
        checker.Check(c.GetSnapshot().Since(second)); // recovered
        Assert.Equal(2, events.Count);
        Assert.False(events[1].IsViolated);
        Assert.False(checker.IsViolated(c.CacheName, c.TierName, SloObjective.HitRate));
    }

    [Fact]
    public void ViolationChanged_HandlerThrows_CheckStillReturns()
    {
        var c = NewCollector(nameof(ViolationChanged_HandlerThrows_CheckStillReturns));
        var checker = new SloChecker();
        checker.ViolationChanged += (_, _) => throw new InvalidOperationException("boom");
        Reads(c, 0, 200);

        var result = checker.Check(c);

        Assert.False(result.IsMet);
    }

    [Fact]
    public void SloTargets_Defaults_MatchTheSeed()
    {
        var t = new SloTargets();
        Assert.Equal(0.80, t.MinHitRate);
        Assert.Equal(0.20, t.MaxMissRate);
        Assert.Equal(0.05, t.MaxEvictionRate);
        Assert.Equal(TimeSpan.FromMicroseconds(100), t.MaxHitLatency);
        Assert.Equal(TimeSpan.FromMicroseconds(1000), t.MaxMissLatency);
    }

    [Theory]
    [InlineData(nameof(SloTargets.MinHitRate))]
    [InlineData(nameof(SloTargets.LatencyPercentile))]
    [InlineData(nameof(SloTargets.MaxHitLatency))]
    [InlineData(nameof(SloTargets.MinimumRequests))]
    public void SloTargets_OutOfRange_ThrowNamingTheTarget(string name)
    {
        var t = name switch
        {
            nameof(SloTargets.MinHitRate) => new SloTargets { MinHitRate = 1.5 },
            nameof(SloTargets.LatencyPercentile) => new SloTargets { LatencyPercentile = 0 },
            nameof(SloTargets.MaxHitLatency) => new SloTargets { MaxHitLatency = TimeSpan.Zero },
            _ => new SloTargets { MinimumRequests = -1 },
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SloChecker(t));
        Assert.Contains(name, ex.Message);
    }
}
