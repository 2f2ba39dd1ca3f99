using System.Diagnostics;
using System.Globalization;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// Times every single operation of each variant, one caller, in rounds (the order rotating each round, after one
/// warm-up round), and prints p50 and p99 against the first variant: BenchmarkDotNet's percentiles are of iteration
/// means, not of operations.
/// </summary>
internal static class LatencyRounds
{
    /// <summary>Runs the variants and prints the table. <c>Before</c> runs outside the timed region.</summary>
    public static async Task RunAsync(string title, (string Name, Action? Before, Func<ValueTask> Operation)[] variants, int rounds, int perRound)
    {
        var samples = variants.Select(_ => new List<long>(rounds * perRound)).ToArray();
        var roundMedians = variants.Select(_ => new List<double>()).ToArray();
        for (var round = -1; round < rounds; round++)
        {
            for (var n = 0; n < variants.Length; n++)
            {
                var v = (n + Math.Max(round, 0)) % variants.Length;
                var times = new long[perRound];
                for (var i = 0; i < perRound; i++)
                {
                    variants[v].Before?.Invoke();
                    var start = Stopwatch.GetTimestamp();
                    await variants[v].Operation();
                    times[i] = Stopwatch.GetTimestamp() - start;
                }

                if (round >= 0)
                {
                    samples[v].AddRange(times);
                    roundMedians[v].Add(Statistics.Percentile([.. times], 50));
                }
            }
        }

        Console.WriteLine($"{title}, one caller, {rounds} rounds x {perRound:N0} operations per variant (after one warm-up round)");
        Console.WriteLine();
        Console.WriteLine("| variant | p50 (µs) | p99 (µs) | p50 / first | p99 / first | median of per-round p50 ratios |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        var first50 = Statistics.Percentile(samples[0], 50);
        var first99 = Statistics.Percentile(samples[0], 99);
        for (var v = 0; v < variants.Length; v++)
        {
            var p50 = Statistics.Percentile(samples[v], 50);
            var p99 = Statistics.Percentile(samples[v], 99);
            var ratios = roundMedians[v].Select((m, r) => m / roundMedians[0][r]).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {variants[v].Name} | {Statistics.Micro(p50):F1} | {Statistics.Micro(p99):F1} | {p50 / first50:F2} | {p99 / first99:F2} | {ratios[ratios.Length / 2]:F2} |"));
        }
    }
}
