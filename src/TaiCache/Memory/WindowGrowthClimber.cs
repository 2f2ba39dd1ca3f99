namespace TaiCache;

/// <summary>
/// Tunes how far a window-ghost hit grows the admission window, by hill climbing on the hit rate: at the end of each
/// sample of requests the step moves by <see cref="Step"/> within [<see cref="Minimum"/>, <see cref="Maximum"/>], the
/// same way as last time while the sampled hit rate rises, the other way when it falls, and not at all when it is
/// unchanged (a tier that never hits). Not thread safe: used under the tier's write lock.
/// </summary>
/// <remarks>
/// <para>
/// The ghost adaptation settles where window-ghost hits are 1 / step times main-ghost hits. Half a step suits
/// frequency-skewed traces (OLTP, P3: a full step over-grows the window there) but holds a feed, where each key enters
/// as the hottest and cools, to a 5-10% window when a 99% one hits 20-30% more; a full step suits the feed. No signal
/// measured at a single miss told the two apart (docs/benchmarks/memory.md), so the step is chosen by the result.
/// </para>
/// <para>
/// Hits are counted as the tier folds entries' read counts into its sketch, so they arrive late and a few are never
/// counted (entries replaced or removed unread since last looked at); a sample spans twenty times the tier's capacity,
/// which keeps that lag small against it. Caffeine climbs the window size itself the same way; climbing the step
/// instead leaves the ghost adaptation in charge between samples, so a trace too short for many samples stays near
/// the half step (P3 at 131,072 entries completes one sample, which moves the step once, to 5/8).
/// </para>
/// </remarks>
internal sealed class WindowGrowthClimber
{
    /// <summary>The smallest step (and the first): half an entry per window-ghost hit.</summary>
    public const double Minimum = 0.5;

    /// <summary>The largest step: ARC's whole entry.</summary>
    public const double Maximum = 1.0;

    /// <summary>How far one sample moves the step.</summary>
    public const double Step = 0.125;

    /// <summary>A sample's length in requests, as a multiple of the tier's capacity.</summary>
    public const int SampleCapacities = 20;

    private long _hits;
    private long _misses;
    private double _lastHitRate = -1;
    private double _direction = Step;

    /// <summary>Gets the current step, in entries per window-ghost hit.</summary>
    public double Rate { get; private set; } = Minimum;

    /// <summary>Counts reads that hit.</summary>
    public void RecordHits(int hits) => _hits += hits;

    /// <summary>Counts a miss (a new key); at the end of a sample of <paramref name="sampleSize"/> requests, moves the step.</summary>
    public void RecordMiss(long sampleSize)
    {
        _misses++;
        var requests = _hits + _misses;
        if (requests < sampleSize)
        {
            return;
        }

        var hitRate = (double)_hits / requests;
        _hits = 0;
        _misses = 0;
        var previous = _lastHitRate;
        _lastHitRate = hitRate;
        if (hitRate == previous)
        {
            // No evidence either way (a tier that never hits, or always does): the step stays.
            return;
        }

        if (previous >= 0 && hitRate < previous)
        {
            _direction = -_direction;
        }

        Rate = Math.Clamp(Rate + _direction, Minimum, Maximum);
    }

    /// <summary>Starts a new sample (the tier was cleared: what came before says nothing about what follows).</summary>
    public void Restart()
    {
        _hits = 0;
        _misses = 0;
        _lastHitRate = -1;
    }
}
