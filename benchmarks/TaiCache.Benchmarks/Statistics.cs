namespace TaiCache.Benchmarks;

/// <summary>Small statistics shared by the console measurement modes.</summary>
internal static class Statistics
{
    /// <summary>The median of some values (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The nearest-rank percentile of Stopwatch tick samples.</summary>
    public static double Percentile(List<long> values, int percentile)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)];
    }

    /// <summary>Stopwatch ticks in microseconds.</summary>
    public static double Micro(double ticks) => ticks * 1e6 / System.Diagnostics.Stopwatch.Frequency;
}
