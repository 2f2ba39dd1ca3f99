namespace TaiCache.HitRatio;

/// <summary>
/// Generated workloads beyond the ARC traces, each built to favour a different policy, so a policy tuned on OLTP and P3
/// is also checked where recency, frequency, scans or loops decide: <c>TaiCache.HitRatio --workload:&lt;name&gt; sizes</c>.
/// Every generator is seeded, so a run is repeatable.
/// </summary>
internal static class Workloads
{
    /// <summary>The names <see cref="TryCreate"/> knows, with what each one is.</summary>
    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["zipf-0.6"] = "Zipf(0.6) over 100,000 keys, 2,000,000 independent requests (weak skew)",
        ["zipf-1.2"] = "Zipf(1.2) over 100,000 keys, 2,000,000 independent requests (strong skew)",
        ["slide"] = "a feed: each key enters as the hottest and cools as newer ones arrive (Zipf(0.8) over the newest 20,000 keys, one new key every 10 of 2,000,000 requests); recency decides",
        ["scans"] = "Zipf(0.9) over 50,000 keys with a scan of 20,000 never-seen keys every 100,000 of 2,000,000 requests",
        ["loop-mix"] = "half Zipf(0.9) over 20,000 keys, half a loop over 30,000 other keys, interleaved, 2,000,000 requests",
    };

    /// <summary>Builds the named workload.</summary>
    /// <returns><see langword="false"/> when the name is not one of <see cref="Descriptions"/>.</returns>
    public static bool TryCreate(string name, out AccessTrace trace)
    {
        const int requests = 2_000_000;
        var random = new Random(42);
        int[]? ids = name switch
        {
            "zipf-0.6" => Independent(new ZipfSampler(100_000, 0.6), random, requests),
            "zipf-1.2" => Independent(new ZipfSampler(100_000, 1.2), random, requests),
            "slide" => Slide(random, requests),
            "scans" => Scans(random, requests),
            "loop-mix" => LoopMix(random, requests),
            _ => null,
        };
        trace = ids is null ? null! : AccessTrace.FromIds(ids);
        return ids is not null;
    }

    private static int[] Independent(ZipfSampler zipf, Random random, int requests)
    {
        var ids = new int[requests];
        for (var r = 0; r < ids.Length; r++)
        {
            ids[r] = zipf.Next(random);
        }

        return ids;
    }

    private static int[] Slide(Random random, int requests)
    {
        const int window = 20_000, requestsPerNewKey = 10;
        var zipf = new ZipfSampler(window, 0.8);
        var ids = new int[requests];
        for (var r = 0; r < ids.Length; r++)
        {
            // Rank 0 is the newest key of the window.
            var newest = window - 1 + (r / requestsPerNewKey);
            ids[r] = newest - zipf.Next(random);
        }

        return ids;
    }

    private static int[] Scans(Random random, int requests)
    {
        const int hot = 50_000, scan = 20_000, scanEvery = 100_000;
        var zipf = new ZipfSampler(hot, 0.9);
        var ids = new List<int>(requests + (requests / scanEvery * scan));
        var nextScanKey = hot;
        for (var r = 0; r < requests; r++)
        {
            if (r > 0 && r % scanEvery == 0)
            {
                for (var s = 0; s < scan; s++)
                {
                    ids.Add(nextScanKey++);
                }
            }

            ids.Add(zipf.Next(random));
        }

        return [.. ids];
    }

    private static int[] LoopMix(Random random, int requests)
    {
        const int hot = 20_000, loop = 30_000;
        var zipf = new ZipfSampler(hot, 0.9);
        var ids = new int[requests];
        var position = 0;
        for (var r = 0; r < ids.Length; r++)
        {
            ids[r] = random.Next(2) == 0 ? zipf.Next(random) : hot + (position++ % loop);
        }

        return ids;
    }

    /// <summary>Ranks 0..n-1 drawn with probability proportional to 1 / (rank + 1)^skew.</summary>
    private sealed class ZipfSampler
    {
        private readonly double[] _cdf;

        public ZipfSampler(int n, double skew)
        {
            _cdf = new double[n];
            double sum = 0;
            for (var i = 0; i < n; i++)
            {
                sum += 1 / Math.Pow(i + 1, skew);
                _cdf[i] = sum;
            }
        }

        public int Next(Random random)
        {
            var index = Array.BinarySearch(_cdf, random.NextDouble() * _cdf[^1]);
            return index < 0 ? ~index : index;
        }
    }
}
