using System.Net.Http;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using TaiCache.Metrics;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Metrics;

public sealed class PrometheusScrapeTests
{
    [Fact]
    public async Task Scrape_MeterProviderWithPrometheusListener_ReturnsTaiCacheSeriesInTextFormat()
    {
        var cacheName = $"{nameof(PrometheusScrapeTests)}_{Guid.NewGuid():N}";
        using var collector = new MetricsCollector(cacheName, "L1", null, new MetricsCollectorOptions { LatencySampleInterval = 1 });
        for (var i = 0; i < 5; i++)
        {
            collector.RecordHitTimed(collector.StartTiming());
        }

        collector.RecordMiss(TimeSpan.FromMicroseconds(800));
        collector.RecordEviction(EvictionReason.Size);
        collector.UpdateSize(3, 300);

        var port = FreePort.Next();
        using var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(TaiCacheTelemetry.MeterName)
            .AddPrometheusHttpListener(o =>
            {
                o.Host = "127.0.0.1";
                o.Port = port;
            })
            .Build();

        // The histogram only sees values recorded while a provider listens.
        collector.RecordHit(TimeSpan.FromMicroseconds(20));

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var body = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");

        var mine = body.Split('\n').Where(l => l.Contains(cacheName, StringComparison.Ordinal)).ToList();
        Assert.Contains(body.Split('\n'), l => l.StartsWith("# TYPE taicache_cache_hits_total counter", StringComparison.Ordinal));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_hits_total{", StringComparison.Ordinal) && l.Contains("cache_tier=\"L1\"") && HasValue(l, 6));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_misses_total{", StringComparison.Ordinal) && HasValue(l, 1));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_evictions_total{", StringComparison.Ordinal) && l.Contains("cache_eviction_reason=\"size\"") && HasValue(l, 1));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_items{", StringComparison.Ordinal) && HasValue(l, 3));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_size_bytes{", StringComparison.Ordinal) && HasValue(l, 300));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_operation_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("cache_result=\"hit\"") && HasValue(l, 1));
        // Sub-millisecond buckets (the instrument advises them): the 20 us hit falls at or under le="2.5E-05".
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_operation_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("le=\"2.5E-05\"") && HasValue(l, 1));
        Assert.Contains(mine, l => l.StartsWith("taicache_cache_operation_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("le=\"1E-05\"") && HasValue(l, 0));
    }

    private static bool HasValue(string line, double expected)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var brace = line.LastIndexOf('}');
        var rest = line[(brace + 1)..].Trim().Split(' ');
        return parts.Length >= 2 && double.TryParse(rest[0], System.Globalization.CultureInfo.InvariantCulture, out var v) && v == expected;
    }
}
