using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using TaiCache.Metrics;
using TaiCache.Tiering;

namespace TaiCache.Benchmarks.Metrics;

/// <summary>
/// The L1 hit with metrics off and on, finely interleaved: each round alternates 100 chunks of 20,000 hits on a cache
/// without collectors with 100 chunks on the same setup with a <see cref="MetricsCollector"/> on every tier (published
/// to the <c>TaiCache</c> meter), which of the two goes first swapping every chunk, and keeps the ratio of the totals;
/// the median of the per-round ratios is reported. A shared VM's speed drifts by more than the 1-3 ns being measured,
/// even within a second, so only measurements taken a millisecond apart are compared.
/// </summary>
internal static class L1HitMetricsOverhead
{
    private const string Key = "bench:user:42";
    private const int ChunkHits = 20_000;
    private const int Chunks = 100;

    private static readonly Func<CancellationToken, ValueTask<string>> Factory = _ => ValueTask.FromResult("value");

    public static async Task RunAsync(int rounds)
    {
        var off = await SetupAsync(metrics: false);
        var on = await SetupAsync(metrics: true);
        var cases = new (string Name, Func<Setup, double> Measure)[]
        {
            ("InMemoryTier.TryGet, entry without TTL", s => Time(s, static s => s.Tier.TryGet<string>(Key + ":nottl", out var v) ? v.Length : 0)),
            ("InMemoryTier.TryGet, entry with a TTL", s => Time(s, static s => s.Tier.TryGet<string>(Key, out var v) ? v.Length : 0)),
            ("MultiTierCache.GetOrSetAsync L1 hit (TTL), completed result read inline", s => Time(s, static s =>
            {
                var pending = s.Cache.GetOrSetAsync(Key, Factory);
                return pending.IsCompletedSuccessfully ? pending.Result.Length : 0;
            })),
        };

        Console.WriteLine($"L1 hit, metrics off vs on, {rounds} rounds of {Chunks} interleaved chunk pairs of {ChunkHits:N0} hits each");
        Console.WriteLine();
        Console.WriteLine("| L1 hit | off (ns, median) | on (ns, median) | median per-round on/off |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var (name, measure) in cases)
        {
            var offs = new List<double>();
            var ons = new List<double>();
            var ratios = new List<double>();
            for (var r = -1; r < rounds; r++)
            {
                double a = 0, b = 0;
                for (var c = 0; c < Chunks; c++)
                {
                    if ((c & 1) == 0)
                    {
                        a += measure(off);
                        b += measure(on);
                    }
                    else
                    {
                        b += measure(on);
                        a += measure(off);
                    }
                }

                a /= Chunks;
                b /= Chunks;
                if (r >= 0)
                {
                    offs.Add(a);
                    ons.Add(b);
                    ratios.Add(b / a);
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {Statistics.Median(offs):F1} | {Statistics.Median(ons):F1} | {Statistics.Median(ratios):F3} |"));
        }

        Console.WriteLine();
        Console.WriteLine($"hits counted by the L1 collector: {on.Collectors[0].GetSnapshot().Hits:N0}");
        await off.Cache.DisposeAsync();
        await on.Cache.DisposeAsync();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Time(Setup setup, Func<Setup, int> hit)
    {
        var sum = 0;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ChunkHits; i++)
        {
            sum += hit(setup);
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        return sum == 0 ? double.NaN : elapsed.TotalNanoseconds / ChunkHits;
    }

    private static async Task<Setup> SetupAsync(bool metrics)
    {
        var collectors = metrics ? new[] { new MetricsCollector("bench", "L1"), new MetricsCollector("bench", "L2") } : [];
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 10_000, Metrics = metrics ? collectors[0] : null });
        var l2 = new InMemoryTier(new InMemoryTierOptions { Name = "L2", MaximumSize = 10_000, Metrics = metrics ? collectors[1] : null });
        var options = new MultiTierCacheOptions { DefaultEntryOptions = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(5) } };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        var cache = new MultiTierCache(options);
        await cache.SetAsync(Key, "value");
        l1.Set(Key + ":nottl", "value");
        return new Setup(cache, l1, collectors);
    }

    private sealed record Setup(MultiTierCache Cache, InMemoryTier Tier, MetricsCollector[] Collectors);
}
