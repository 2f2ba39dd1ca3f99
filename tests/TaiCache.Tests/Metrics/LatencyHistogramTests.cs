using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

public sealed class LatencyHistogramTests
{
    private static readonly double[] Percentiles = [1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100];

    [Fact]
    public void IndexOf_EveryMagnitude_ValueLiesInsideItsBucket()
    {
        var values = new List<long>();
        for (long v = 0; v < 5_000; v++)
        {
            values.Add(v);
        }

        for (var e = 12; e <= 62; e++)
        {
            values.Add((1L << e) - 1);
            values.Add(1L << e);
            values.Add((1L << e) + 1);
            values.Add((1L << e) + (1L << (e - 1)) + 12345);
        }

        foreach (var v in values.Where(v => v <= LatencyHistogram.MaxTrackable))
        {
            var index = LatencyHistogram.IndexOf(v);
            Assert.InRange(index, 0, LatencyHistogram.BucketCount - 1);
            var lower = LatencyHistogram.LowerBound(index);
            var width = LatencyHistogram.Width(index);
            Assert.InRange(v, lower, lower + width - 1);
            Assert.True(width <= Math.Max(1, lower / LatencyHistogram.SubBucketCount), $"bucket of {v} is {width} wide from {lower}");
        }

        Assert.Equal(LatencyHistogram.BucketCount - 1, LatencyHistogram.IndexOf(long.MaxValue));
        Assert.Equal(long.MaxValue, LatencyHistogram.LowerBound(LatencyHistogram.BucketCount - 1) + LatencyHistogram.Width(LatencyHistogram.BucketCount - 1) - 1);
    }

    [Fact]
    public void Percentiles_BeyondFortyOneBits_WithinBucketError()
    {
        // 2^41 ns is about 36.6 minutes: the histogram used to stop there and report everything above as its top bucket.
        var random = new Random(11);
        var values = Enumerable.Range(0, 20_000).Select(_ => random.NextInt64(1L << 30, 1L << 56)).ToArray();
        AssertPercentilesWithinError(values);
    }

    [Fact]
    public void GetPercentile_Hundredth_IsTheExactMax()
    {
        var histogram = new LatencyHistogram();
        for (long us = 1; us <= 100_000; us++)
        {
            histogram.Record(us * 1000);
        }

        var d = histogram.Snapshot();
        Assert.Equal(100_000, d.MaxMicroseconds, 9);
        Assert.Equal(100_000, d.GetPercentileMicroseconds(100), 9);
        Assert.True(d.GetPercentileMicroseconds(99.999) <= 100_000);
    }

    [Fact]
    public void GetPercentile_OneValue_IsThatValue()
    {
        var histogram = new LatencyHistogram();
        histogram.Record((1L << 27) - 1); // the top of its bucket, above the bucket's midpoint

        var d = histogram.Snapshot();
        Assert.Equal(134_217.727, d.P50Microseconds, 9);
        Assert.Equal(134_217.727, d.P999Microseconds, 9);
    }

    [Fact]
    public void Percentiles_UniformDistribution_WithinBucketError()
    {
        var random = new Random(42);
        var values = Enumerable.Range(0, 200_000).Select(_ => (long)random.NextInt64(100, 5_000_000)).ToArray();
        AssertPercentilesWithinError(values);
    }

    [Fact]
    public void Percentiles_ExponentialDistribution_WithinBucketError()
    {
        var random = new Random(7);
        const double meanNs = 20_000;
        var values = Enumerable.Range(0, 200_000).Select(_ => (long)(-meanNs * Math.Log(1 - random.NextDouble()))).ToArray();
        AssertPercentilesWithinError(values);
    }

    [Fact]
    public void Percentiles_ConcurrentRecording_CountAndMaxExact()
    {
        var histogram = new LatencyHistogram();
        Parallel.For(0, 8, t =>
        {
            for (var i = 1; i <= 50_000; i++)
            {
                histogram.Record(i + t);
            }
        });

        var d = histogram.Snapshot();
        Assert.Equal(400_000, d.Count);
        Assert.Equal((50_000 + 7) / 1000.0, d.MaxMicroseconds, 9);
        var exactMean = Enumerable.Range(0, 8).Sum(t => Enumerable.Range(1, 50_000).Sum(i => (double)(i + t))) / 400_000 / 1000.0;
        Assert.Equal(exactMean, d.MeanMicroseconds, 6);
    }

    [Fact]
    public void GetPercentile_Empty_IsZero_AndBadPercentileThrows()
    {
        var d = new LatencyHistogram().Snapshot();
        Assert.Equal(0, d.P99Microseconds);
        Assert.Equal(0, d.MaxMicroseconds);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.GetPercentileMicroseconds(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.GetPercentileMicroseconds(100.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.GetPercentileMicroseconds(double.NaN));
    }

    [Fact]
    public void Since_LaterSnapshot_HoldsOnlyNewValues()
    {
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 1_000; i++)
        {
            histogram.Record(1_000);
        }

        var earlier = histogram.Snapshot();
        for (var i = 0; i < 100; i++)
        {
            histogram.Record(1_000_000);
        }

        var delta = histogram.Snapshot().Since(earlier);
        Assert.Equal(100, delta.Count);
        Assert.InRange(delta.P50Microseconds, 1000 * (1 - LatencyDistribution.RelativeError), 1000 * (1 + LatencyDistribution.RelativeError));
        Assert.Equal(1000, delta.MeanMicroseconds, 6);
    }

    private static void AssertPercentilesWithinError(long[] values)
    {
        var histogram = new LatencyHistogram();
        foreach (var v in values)
        {
            histogram.Record(v);
        }

        var d = histogram.Snapshot();
        var sorted = values.OrderBy(v => v).ToArray();
        Assert.Equal(values.Length, d.Count);
        Assert.Equal(sorted[^1] / 1000.0, d.MaxMicroseconds, 9);
        foreach (var p in Percentiles)
        {
            var rank = Math.Max(1, (long)Math.Ceiling((p * sorted.Length / 100.0) - 1e-9)); // nearest rank, as LatencyDistribution takes it
            var exact = sorted[rank - 1] / 1000.0;
            var reported = d.GetPercentileMicroseconds(p);
            Assert.True(reported <= d.MaxMicroseconds, $"p{p}: reported {reported} us, above the max {d.MaxMicroseconds} us");
            Assert.True(
                Math.Abs(reported - exact) <= (exact * LatencyDistribution.RelativeError) + 0.0005,
                $"p{p}: reported {reported} us, exact {exact} us, allowed error {LatencyDistribution.RelativeError:P2}");
        }
    }

    [Fact]
    public void Mean_OfBogusHugeLatencies_StaysPositive_MaxStaysExact()
    {
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 3; i++)
        {
            histogram.Record(long.MaxValue); // three of them wrapped the sum: a negative mean
        }

        histogram.Record(1_000_000);
        var distribution = histogram.Snapshot();
        Assert.True(distribution.MeanMicroseconds > 0, $"mean {distribution.MeanMicroseconds} us");
        Assert.Equal(long.MaxValue / 1000.0, distribution.MaxMicroseconds, 6);
    }
}
