using System.Diagnostics;
using System.Globalization;

namespace TaiCache.Benchmarks.Memory;

/// <summary>
/// The cost of copying lower-tier hits into a full L1 (what a <c>MultiTierCache</c> read-through batch pays on top of
/// the L2 read): 100 keys at a time into a 1,000-entry <see cref="InMemoryTier"/> that every key is new to (20,000 keys
/// read in windows of 100), through the batch path the multi-tier cache uses and through one <c>Set</c> per key.
/// Rounds alternate the two; the median of each is reported in nanoseconds per key.
/// </summary>
internal static class L1BatchFill
{
    private const int Capacity = 1_000;
    private const int Keys = 20_000;
    private const int Batch = 100;

    public static void Run(int rounds)
    {
        var keys = Enumerable.Range(0, Keys).Select(i => $"product:{i}").ToArray();
        var windows = Enumerable.Range(0, Keys / Batch).Select(w => (IReadOnlyList<string>)keys.AsSpan(w * Batch, Batch).ToArray()).ToArray();
        var value = new object();
        var hits = Enumerable.Range(0, Batch).Select(_ => new CacheResult<object>(value)).ToArray();
        var ttl = TimeSpan.FromMinutes(5);
        var batched = new InMemoryTier(new InMemoryTierOptions { Name = "batched", MaximumSize = Capacity });
        var single = new InMemoryTier(new InMemoryTierOptions { Name = "single", MaximumSize = Capacity });

        var cold = new InMemoryTier(new InMemoryTierOptions { Name = "cold", MaximumSize = Capacity });
        var batchTimes = new List<double>();
        var singleTimes = new List<double>();
        var coldTimes = new List<double>();
        for (var round = -1; round < rounds; round++)
        {
            var b = Time(w => batched.SetHits(windows[w], hits, ttl, batched.WriteMark), windows.Length);
            var s = Time(w =>
            {
                foreach (var key in windows[w])
                {
                    single.Set(key, value, ttl);
                }
            }, windows.Length);
            var c = TimeCold(w => cold.SetHits(windows[w], hits, ttl, cold.WriteMark), windows.Length);
            if (round >= 0)
            {
                batchTimes.Add(b);
                singleTimes.Add(s);
                coldTimes.Add(c);
            }
        }

        Console.WriteLine($"Copying {Batch} new keys at a time into a full {Capacity:N0}-entry L1 ({Keys:N0} keys cycled), {rounds} rounds of 1 s each");
        Console.WriteLine();
        Console.WriteLine("| path | ns per key (median) | best round |");
        Console.WriteLine("| --- | ---: | ---: |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| batch copy (`SetHits`, the multi-tier read-through path) | {Statistics.Median(batchTimes):F1} | {batchTimes.Min():F1} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| batch copy, CPU caches flushed before each batch (as between network reads) | {Statistics.Median(coldTimes):F1} | {coldTimes.Min():F1} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| one `Set` per key | {Statistics.Median(singleTimes):F1} | {singleTimes.Min():F1} |"));
        Console.WriteLine();
        Console.WriteLine($"size evictions: batched {batched.GetStatistics().SizeEvictions:N0}, single {single.GetStatistics().SizeEvictions:N0}");
    }

    /// <summary>
    /// Times only the fills, with an 8 MiB buffer written through between batches: in a real read-through batch the
    /// network read and the deserialization of 100 values run between two copies and push the tier's tables out of the
    /// CPU's caches, which a tight loop of copies never does.
    /// </summary>
    private static double TimeCold(Action<int> fill, int windows)
    {
        var flush = new byte[8 << 20];
        long keys = 0;
        long ticks = 0;
        var w = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(1))
        {
            for (var i = 0; i < flush.Length; i += 64)
            {
                flush[i]++;
            }

            var start = Stopwatch.GetTimestamp();
            fill(w);
            ticks += Stopwatch.GetTimestamp() - start;
            w = (w + 1) % windows;
            keys += Batch;
        }

        return ticks * (1e9 / Stopwatch.Frequency) / keys;
    }

    private static double Time(Action<int> fill, int windows)
    {
        long keys = 0;
        var w = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(1))
        {
            fill(w);
            w = (w + 1) % windows;
            keys += Batch;
        }

        return watch.Elapsed.TotalNanoseconds / keys;
    }
}
