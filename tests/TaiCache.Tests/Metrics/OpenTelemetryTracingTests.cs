using System.Collections.Concurrent;
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using TaiCache.Metrics;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Metrics;

/// <summary>The documented subscription, <c>AddSource(TaiCacheTelemetry.ActivitySourceName)</c>, through the OpenTelemetry SDK.</summary>
[Collection(TaiCacheActivityCollection.Name)]
public sealed class OpenTelemetryTracingTests
{
    private sealed class Collect(string cacheName) : BaseProcessor<Activity>
    {
        public ConcurrentQueue<Activity> Ended { get; } = new();

        public override void OnEnd(Activity data)
        {
            if (Equals(data.GetTagItem(TaiCacheTelemetry.CacheNameTag), cacheName))
            {
                Ended.Enqueue(data);
            }
        }
    }

    [Fact]
    public async Task TracerProvider_AddSource_ExportsTierActivities()
    {
        var name = $"{nameof(OpenTelemetryTracingTests)}:{Guid.NewGuid():N}";
        var collect = new Collect(name);
        using (Sdk.CreateTracerProviderBuilder().AddSource(TaiCacheTelemetry.ActivitySourceName).AddProcessor(collect).Build())
        {
            var options = new MultiTierCacheOptions { Name = name };
            options.Tiers.Add(TierTestKit.Memory("L1"));
            options.Tiers.Add(TierTestKit.Memory("L2"));
            await using var cache = new MultiTierCache(options);
            var key = TierTestKit.Key(this);
            await cache.SetAsync(key, 1);
            _ = await cache.GetAsync<int>(key); // L1 hit: nothing
            _ = await cache.GetAsync<int>(key + ":absent");
        }

        Assert.Equal([TaiCacheTelemetry.SetActivity, TaiCacheTelemetry.GetActivity], collect.Ended.Select(a => a.OperationName));
        Assert.All(collect.Ended, a => Assert.True(a.Recorded));
        Assert.Equal("miss", collect.Ended.Last().GetTagItem(TaiCacheTelemetry.ResultTag));
    }
}
