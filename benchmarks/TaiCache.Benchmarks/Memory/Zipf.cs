namespace TaiCache.Benchmarks.Memory;

/// <summary>A fixed, seeded Zipf-distributed key sequence (no allocation while it is replayed).</summary>
internal static class Zipf
{
    public static string[] Keys(int count) => Enumerable.Range(0, count).Select(i => $"user:{i:D6}").ToArray();

    public static string[] Sequence(string[] keys, double skew, int length, int seed)
    {
        var cdf = new double[keys.Length];
        double sum = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            sum += 1 / Math.Pow(i + 1, skew);
            cdf[i] = sum;
        }

        // Shuffle ranks over keys so popularity is not correlated with key order.
        var random = new Random(seed);
        var byRank = keys.ToArray();
        random.Shuffle(byRank);
        var sequence = new string[length];
        for (var i = 0; i < length; i++)
        {
            var index = Array.BinarySearch(cdf, random.NextDouble() * sum);
            sequence[i] = byRank[index < 0 ? ~index : index];
        }

        return sequence;
    }
}
