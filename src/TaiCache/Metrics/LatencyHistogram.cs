using System.Numerics;
using System.Runtime.CompilerServices;

namespace TaiCache.Metrics;

/// <summary>
/// A lock-free, log-bucketed latency histogram in nanoseconds: values below 16 ns get a bucket each, above that every
/// power of two is split into 16 equal sub-buckets, so a bucket is at most 1/16 (6.25%) of its lower bound wide and
/// the value reported for it (its midpoint) is within <see cref="LatencyDistribution.RelativeError"/> of any value in it.
/// The buckets cover every value a <see cref="long"/> holds (up to 2^63 ns, about 292 years), so no value falls
/// outside them; the exact maximum is kept separately.
/// </summary>
internal sealed class LatencyHistogram
{
    internal const int SubBucketBits = 4;
    internal const int SubBucketCount = 1 << SubBucketBits;
    internal const int MaxExponent = 62;
    internal const int BucketCount = SubBucketCount + ((MaxExponent - SubBucketBits + 1) * SubBucketCount);
    internal const long MaxTrackable = long.MaxValue;

    /// <summary>The most one value adds to the sum the mean is taken from (about 11.6 days): a latency past it is bogus,
    /// and a few of them at long.MaxValue would wrap the sum (a negative mean).</summary>
    internal const long MaxSummed = 1_000_000_000_000_000;

    private readonly long[] _counts = new long[BucketCount];
    private long _count;
    private long _sum;
    private long _max;

    /// <summary>Records one value (nanoseconds; negatives count as zero).</summary>
    /// <param name="nanoseconds">The value.</param>
    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            nanoseconds = 0;
        }

        Interlocked.Increment(ref _counts[IndexOf(nanoseconds)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, Math.Min(nanoseconds, MaxSummed));
        InterlockedMax.Raise(ref _max, nanoseconds);
    }

    /// <summary>Copies the histogram into an immutable, sparse distribution.</summary>
    /// <returns>The distribution.</returns>
    public LatencyDistribution Snapshot()
    {
        var indices = new List<int>();
        var counts = new List<long>();
        long total = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            var c = Volatile.Read(ref _counts[i]);
            if (c != 0)
            {
                indices.Add(i);
                counts.Add(c);
                total += c;
            }
        }

        // The bucket sums are the truth for percentiles; count/sum/max are read after them and may include a value
        // recorded in between, which is harmless.
        return new LatencyDistribution([.. indices], [.. counts], total, Volatile.Read(ref _sum), Volatile.Read(ref _max), maxIsExact: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IndexOf(long nanoseconds)
    {
        if (nanoseconds < SubBucketCount)
        {
            return (int)nanoseconds;
        }

        var exponent = BitOperations.Log2((ulong)nanoseconds);
        var shift = exponent - SubBucketBits;
        var mantissa = (int)(nanoseconds >> shift) - SubBucketCount;
        return SubBucketCount + (shift * SubBucketCount) + mantissa;
    }

    /// <summary>Gets the smallest value a bucket holds.</summary>
    /// <param name="index">The bucket.</param>
    /// <returns>Its lower bound, in nanoseconds.</returns>
    internal static long LowerBound(int index)
    {
        if (index < SubBucketCount)
        {
            return index;
        }

        var shift = (index - SubBucketCount) / SubBucketCount;
        var mantissa = (index - SubBucketCount) % SubBucketCount;
        return (long)(SubBucketCount + mantissa) << shift;
    }

    /// <summary>Gets the number of values a bucket spans.</summary>
    /// <param name="index">The bucket.</param>
    /// <returns>Its width, in nanoseconds.</returns>
    internal static long Width(int index) => index < SubBucketCount ? 1 : 1L << ((index - SubBucketCount) / SubBucketCount);
}
