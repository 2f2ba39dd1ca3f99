using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using TaiCache.Tiering;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>L1-hit GetOrSet with Redis configured as L2: TaiCache vs FusionCache 2.9 vs HybridCache.</summary>
[MemoryDiagnoser]
public class MultiTierL1HitBenchmarks
{
    private const string Key = "bench:l1hit";
    private static readonly Product Value = Product.Sample(42);
    private BenchRedis _redis = null!;
    private MultiTierCache _tai = null!;
    private FusionCache _fusion = null!;
    private HybridCache _hybrid = null!;
    private ServiceProvider _services = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _redis = BenchRedis.Start();
        var prefix = $"l1:{Guid.NewGuid():N}:";
        (_tai, _, _) = await PeerSetup.TaiCacheAsync(_redis.Endpoint, prefix);
        _fusion = PeerSetup.Fusion(_redis.Endpoint, prefix);
        (_hybrid, _services) = PeerSetup.Hybrid(_redis.Endpoint, prefix);
        await TaiCacheGetOrSet();
        await FusionGetOrSet();
        await HybridGetOrCreate();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _tai.DisposeAsync();
        _fusion.Dispose();
        await _services.DisposeAsync();
        _redis.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<Product> TaiCacheGetOrSet() => _tai.GetOrSetAsync(Key, 0, static (_, _) => new ValueTask<Product>(Value));

    [Benchmark]
    public ValueTask<Product> FusionGetOrSet() => _fusion.GetOrSetAsync<Product>(Key, static (_, _) => Task.FromResult(Value));

    [Benchmark]
    public ValueTask<Product> HybridGetOrCreate() => _hybrid.GetOrCreateAsync(Key, 0, static (_, _) => new ValueTask<Product>(Value));
}
