namespace TaiCache.Tests.Memory;

/// <summary>
/// The window's growth step climbs on the sampled hit rate: it keeps moving while the hit rate holds or rises, turns
/// back when it falls, stays within its bounds, and starts over after a restart.
/// </summary>
public sealed class WindowGrowthClimberTests
{
    private const long Sample = 1_000;

    [Fact]
    public void RisingHitRate_ClimbsToTheMaximum_AndStaysThere()
    {
        var climber = new WindowGrowthClimber();
        Assert.Equal(WindowGrowthClimber.Minimum, climber.Rate);
        for (var sample = 0; sample < 10; sample++)
        {
            RunSample(climber, hitRate: 0.2 + (sample * 0.05));
        }

        Assert.Equal(WindowGrowthClimber.Maximum, climber.Rate);
    }

    [Fact]
    public void FallingHitRate_TurnsTheStepBack()
    {
        var climber = new WindowGrowthClimber();
        RunSample(climber, 0.30);
        RunSample(climber, 0.35);
        RunSample(climber, 0.40);
        var risen = climber.Rate;
        Assert.Equal(WindowGrowthClimber.Minimum + (3 * WindowGrowthClimber.Step), risen);

        RunSample(climber, 0.30);
        Assert.Equal(risen - WindowGrowthClimber.Step, climber.Rate);
        RunSample(climber, 0.32);
        Assert.Equal(risen - (2 * WindowGrowthClimber.Step), climber.Rate);
    }

    [Fact]
    public void NoSampleCompleted_StepUnchanged()
    {
        var climber = new WindowGrowthClimber();
        climber.RecordHits(500);
        for (var i = 0; i < 499; i++)
        {
            climber.RecordMiss(Sample);
        }

        Assert.Equal(WindowGrowthClimber.Minimum, climber.Rate);
    }

    [Fact]
    public void FallingHitRateAtTheMinimum_StaysAtTheMinimum_ThenClimbsOnTheNextFall()
    {
        var climber = new WindowGrowthClimber();
        RunSample(climber, 0.5);
        Assert.Equal(WindowGrowthClimber.Minimum + WindowGrowthClimber.Step, climber.Rate);
        RunSample(climber, 0.4);
        Assert.Equal(WindowGrowthClimber.Minimum, climber.Rate);
        RunSample(climber, 0.4);
        Assert.Equal(WindowGrowthClimber.Minimum, climber.Rate);
        RunSample(climber, 0.3);
        Assert.Equal(WindowGrowthClimber.Minimum + WindowGrowthClimber.Step, climber.Rate);
    }

    [Fact]
    public void UnchangedHitRate_StepStays()
    {
        // A tier that never hits (every read a new key) gives no evidence: the step must not walk to either bound.
        var climber = new WindowGrowthClimber();
        RunSample(climber, 0);
        var first = climber.Rate;
        for (var sample = 0; sample < 10; sample++)
        {
            RunSample(climber, 0);
        }

        Assert.Equal(first, climber.Rate);
    }

    [Fact]
    public void Restart_ForgetsTheLastSample()
    {
        var climber = new WindowGrowthClimber();
        RunSample(climber, 0.9);
        var rate = climber.Rate;
        climber.Restart();

        // Far below the sample before the restart, but that sample is forgotten: no turn, the step keeps its direction.
        RunSample(climber, 0.1);
        Assert.Equal(rate + WindowGrowthClimber.Step, climber.Rate);
    }

    private static void RunSample(WindowGrowthClimber climber, double hitRate)
    {
        var hits = (int)Math.Round(Sample * hitRate);
        climber.RecordHits(hits);
        for (var i = 0; i < Sample - hits; i++)
        {
            climber.RecordMiss(Sample);
        }
    }
}
