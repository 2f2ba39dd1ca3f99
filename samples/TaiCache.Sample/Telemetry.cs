using OpenTelemetry;
using OpenTelemetry.Metrics;
using TaiCache.Metrics;

namespace TaiCache.Sample;

/// <summary>Exports the TaiCache meter for Prometheus on loopback.</summary>
internal static class Telemetry
{
    public static MeterProvider? StartPrometheus(int port, out string? scrapeUrl)
    {
        scrapeUrl = null;
        if (port <= 0)
        {
            return null;
        }

        try
        {
            var provider = Sdk.CreateMeterProviderBuilder()
                .AddMeter(TaiCacheTelemetry.MeterName)
                .AddPrometheusHttpListener(o =>
                {
                    o.Host = "127.0.0.1";
                    o.Port = port;
                })
                .Build();
            scrapeUrl = $"http://127.0.0.1:{port}/metrics";
            return provider;
        }
        catch (Exception ex) when (ex is System.Net.HttpListenerException or InvalidOperationException)
        {
            Console.WriteLine($"(metrics endpoint not started on port {port}: {ex.Message})");
            return null;
        }
    }
}
