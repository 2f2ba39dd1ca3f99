using System.Globalization;

namespace TaiCache.Metrics;

/// <summary>
/// An immutable latency distribution: how many operations were timed and their percentiles, from a log-bucketed
/// histogram. Every percentile is within <see cref="RelativeError"/> (about 3.1%) of the true value at that rank, and
/// never above <see cref="MaxMicroseconds"/>. <see cref="MaxMicroseconds"/> and <see cref="MeanMicroseconds"/> are
/// exact, and the 100th percentile is the maximum; in a <see cref="Since(LatencyDistribution)"/> interval the maximum
/// is an upper bound (the top of the highest bucket used) and the 100th percentile a bucket midpoint like the others.
/// </summary>
/// <remarks>
/// Callers usually time one operation in N (see <see cref="MetricsCollector.ShouldTimeOperation"/>), so
/// <see cref="Count"/> is the number of timed operations, not of operations; the hit and miss counters are exact.
/// </remarks>
public sealed class LatencyDistribution
{
    /// <summary>The largest relative difference between a reported percentile and the true value at its rank: 1/32.</summary>
    public const double RelativeError = 1.0 / (2 * LatencyHistogram.SubBucketCount);

    private readonly int[] _indices;
    private readonly long[] _counts;
    private readonly long _sumNanoseconds;
    private readonly long _maxNanoseconds;
    private readonly bool _maxIsExact;

    internal LatencyDistribution(int[] indices, long[] counts, long count, long sumNanoseconds, long maxNanoseconds, bool maxIsExact)
    {
        _maxIsExact = maxIsExact;
        _indices = indices;
        _counts = counts;
        Count = count;
        _sumNanoseconds = sumNanoseconds;
        _maxNanoseconds = maxNanoseconds;
    }

    /// <summary>Gets an empty distribution.</summary>
    public static LatencyDistribution Empty { get; } = new([], [], 0, 0, 0, maxIsExact: true);

    /// <summary>Gets the number of timed operations.</summary>
    public long Count { get; }

    /// <summary>Gets the mean, in microseconds (0 when nothing was timed).</summary>
    public double MeanMicroseconds => Count == 0 ? 0 : _sumNanoseconds / (double)Count / 1000.0;

    /// <summary>Gets the largest value timed, in microseconds (0 when nothing was timed).</summary>
    public double MaxMicroseconds => _maxNanoseconds / 1000.0;

    /// <summary>Gets the median, in microseconds.</summary>
    public double P50Microseconds => GetPercentileMicroseconds(50);

    /// <summary>Gets the 90th percentile, in microseconds.</summary>
    public double P90Microseconds => GetPercentileMicroseconds(90);

    /// <summary>Gets the 99th percentile, in microseconds.</summary>
    public double P99Microseconds => GetPercentileMicroseconds(99);

    /// <summary>Gets the 99.9th percentile, in microseconds.</summary>
    public double P999Microseconds => GetPercentileMicroseconds(99.9);

    /// <summary>Gets the value below or at which <paramref name="percentile"/> percent of the timed operations fall.</summary>
    /// <param name="percentile">A percentile in (0, 100], such as 99 or 99.9.</param>
    /// <returns>The value in microseconds; 0 when nothing was timed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="percentile"/> is not in (0, 100].</exception>
    public double GetPercentileMicroseconds(double percentile)
    {
        if (!(percentile > 0 && percentile <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "The percentile must be in (0, 100].");
        }

        if (Count == 0)
        {
            return 0;
        }

        // The nearest-rank method: the smallest value with at least ceil(p * n) values at or below it. Multiplied before it is
        // divided, and a rounding error's worth taken off: 99.9 / 100 * 1000 is 999.0000000000001, whose ceiling (1000)
        // made p99.9 of 1,000 samples their maximum.
        var rank = Math.Max(1, (long)Math.Ceiling((percentile * Count / 100.0) - 1e-9));
        long seen = 0;
        for (var i = 0; i < _indices.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return PercentileNanoseconds(i, rank) / 1000.0;
            }
        }

        return MaxMicroseconds;
    }

    /// <summary>Gets the value reported for a rank that falls in the <paramref name="position"/>-th non-empty bucket.</summary>
    private double PercentileNanoseconds(int position, long rank)
    {
        var index = _indices[position];
        var lower = LatencyHistogram.LowerBound(index);
        var upper = lower + (LatencyHistogram.Width(index) - 1);
        if (_maxIsExact && position == _indices.Length - 1)
        {
            // The highest bucket in use holds the maximum: its values lie in [lower, max], and the last rank is the
            // maximum itself (the histogram keeps it exactly).
            if (rank == Count)
            {
                return _maxNanoseconds;
            }

            upper = Math.Min(upper, Math.Max(lower, _maxNanoseconds));
        }

        return Math.Min(lower + ((upper - lower) / 2.0), _maxNanoseconds);
    }

    /// <summary>Gets what was timed after <paramref name="earlier"/> (a snapshot of the same histogram taken before this one).</summary>
    /// <param name="earlier">The earlier snapshot.</param>
    /// <returns>The difference. Its maximum is the top of the highest bucket used in between, capped by the overall maximum (the histogram keeps no per-interval maximum).</returns>
    public LatencyDistribution Since(LatencyDistribution earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        var indices = new List<int>(_indices.Length);
        var counts = new List<long>(_indices.Length);
        long total = 0;
        var j = 0;
        for (var i = 0; i < _indices.Length; i++)
        {
            while (j < earlier._indices.Length && earlier._indices[j] < _indices[i])
            {
                j++;
            }

            var before = j < earlier._indices.Length && earlier._indices[j] == _indices[i] ? earlier._counts[j] : 0;
            var diff = _counts[i] - before;
            if (diff > 0)
            {
                indices.Add(_indices[i]);
                counts.Add(diff);
                total += diff;
            }
        }

        var max = 0L;
        if (total > 0)
        {
            var last = indices[^1];
            max = Math.Min(_maxNanoseconds, LatencyHistogram.LowerBound(last) + LatencyHistogram.Width(last) - 1);
        }

        return new LatencyDistribution([.. indices], [.. counts], total, Math.Max(0, _sumNanoseconds - earlier._sumNanoseconds), max, maxIsExact: false);
    }

    /// <inheritdoc />
    public override string ToString() => Count == 0
        ? "n=0"
        : string.Create(CultureInfo.InvariantCulture, $"n={Count} p50={P50Microseconds:0.###}us p90={P90Microseconds:0.###}us p99={P99Microseconds:0.###}us p999={P999Microseconds:0.###}us max={MaxMicroseconds:0.###}us");
}
