using System.Globalization;
using System.Text;

namespace TaiCache.Metrics;

/// <summary>Formats metrics snapshots and SLO results as plain-text tables for consoles and logs.</summary>
public static class MetricsReportFormatter
{
    private static readonly string[] SloHeader = ["cache/tier", "objective", "measured", "target", "status"];

    /// <summary>Formats one snapshot on one line.</summary>
    /// <param name="metrics">The snapshot.</param>
    /// <returns>The line.</returns>
    public static string FormatLine(CacheMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{metrics.CacheName}/{metrics.TierName}: hits={metrics.Hits} misses={metrics.Misses} hit-rate={Percent(metrics.HitRate)} sets={metrics.Sets} deletes={metrics.Deletes} evictions={metrics.Evictions} errors={metrics.Errors} items={(metrics.SizeReported ? metrics.Items.ToString(CultureInfo.InvariantCulture) : "-")} bytes={(metrics.BytesReported ? metrics.Bytes.ToString(CultureInfo.InvariantCulture) : "-")} ops/s={metrics.OperationsPerSecond:0.#} hit-latency[{metrics.HitLatency}] miss-latency[{metrics.MissLatency}]");
    }

    /// <summary>Formats snapshots (and, optionally, their SLO results) as a table, one row per cache and tier.</summary>
    /// <param name="metrics">The snapshots.</param>
    /// <param name="sloResults">SLO results to list under the table; <see langword="null"/> for none.</param>
    /// <returns>The table.</returns>
    public static string FormatTable(IEnumerable<CacheMetrics> metrics, IEnumerable<SloCheckResult>? sloResults = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        string[] header = ["cache/tier", "hits", "misses", "hit rate", "sets", "evict(size)", "errors", "items", "peak items", "ops/s", "hit p50 us", "hit p99 us", "miss p50 us", "miss p99 us", "max us"];
        var rows = new List<string[]> { header };
        foreach (var m in metrics)
        {
            rows.Add(
            [
                $"{m.CacheName}/{m.TierName}",
                N(m.Hits),
                N(m.Misses),
                Percent(m.HitRate),
                N(m.Sets),
                N(m.EvictionsBySize),
                N(m.Errors),
                m.SizeReported ? N(m.Items) : "-",
                m.SizeReported ? N(m.PeakItems) : "-",
                m.OperationsPerSecond.ToString("0.#", CultureInfo.InvariantCulture),
                Us(m.HitLatency.Count, m.HitLatency.P50Microseconds),
                Us(m.HitLatency.Count, m.HitLatency.P99Microseconds),
                Us(m.MissLatency.Count, m.MissLatency.P50Microseconds),
                Us(m.MissLatency.Count, m.MissLatency.P99Microseconds),
                Us(m.HitLatency.Count + m.MissLatency.Count, Math.Max(m.HitLatency.MaxMicroseconds, m.MissLatency.MaxMicroseconds)),
            ]);
        }

        var text = new StringBuilder();
        AppendTable(text, rows);
        if (sloResults is not null)
        {
            var sloRows = new List<string[]> { SloHeader };
            foreach (var result in sloResults)
            {
                foreach (var m in result.Measurements)
                {
                    sloRows.Add([$"{result.Metrics.CacheName}/{result.Metrics.TierName}", m.Objective.ToString(), m.FormatMeasured(), m.FormatTarget(), m.IsMet ? "ok" : "VIOLATED"]);
                }
            }

            text.AppendLine();
            AppendTable(text, sloRows);
        }

        return text.ToString();
    }

    private static string Percent(double rate) => (rate * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Us(long count, double value) => count == 0 ? "-" : value.ToString("0.###", CultureInfo.InvariantCulture);

    private static void AppendTable(StringBuilder text, List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        for (var r = 0; r < rows.Count; r++)
        {
            for (var i = 0; i < rows[r].Length; i++)
            {
                text.Append(i == 0 ? rows[r][i].PadRight(widths[i]) : rows[r][i].PadLeft(widths[i] + 2));
            }

            text.AppendLine();
            if (r == 0)
            {
                text.AppendLine(new string('-', widths.Sum() + (2 * (widths.Length - 1))));
            }
        }
    }
}
