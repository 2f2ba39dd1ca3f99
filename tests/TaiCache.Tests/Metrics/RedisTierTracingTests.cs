using System.Diagnostics;
using TaiCache.Metrics;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Metrics;

/// <summary>Activities of a <see cref="MultiTierCache"/> over a real Redis L2: client spans, nested under the caller's.</summary>
[Collection(TaiCacheActivityCollection.Name)]
public sealed class RedisTierTracingTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task GetAndSet_RedisL2_ClientActivitiesTaggedWithTier()
    {
        var name = $"{nameof(RedisTierTracingTests)}:{Guid.NewGuid():N}";
        var options = new MultiTierCacheOptions { Name = name };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(new RedisCache(new RedisCacheOptions { Name = "redis-l2", ConnectionString = redis.ConnectionString, KeyPrefix = name + ":" }));
        await using var cache = new MultiTierCache(options);
        var key = TierTestKit.Key(this);
        using var capture = new ActivityCapture(name);

        await cache.SetAsync(key, "value");
        var miss = await cache.GetAsync<string>(key + ":absent");
        await cache.Tiers[0].DeleteAsync(key); // drop it from L1 only
        var hit = await cache.GetAsync<string>(key);

        Assert.False(miss.HasValue);
        Assert.Equal("value", hit.Value);
        var all = capture.Stopped;
        Assert.Equal(3, all.Count);
        Assert.All(all, a =>
        {
            Assert.Equal(ActivityKind.Client, a.Kind);
            Assert.Equal("redis-l2", a.GetTagItem(TaiCacheTelemetry.CacheTierTag));
            Assert.Equal(ActivityStatusCode.Unset, a.Status);
        });
        Assert.Equal(TaiCacheTelemetry.SetActivity, all[0].OperationName);
        Assert.Equal(["miss", "hit"], all.Skip(1).Select(a => a.GetTagItem(TaiCacheTelemetry.ResultTag)));
    }
}
