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
}
