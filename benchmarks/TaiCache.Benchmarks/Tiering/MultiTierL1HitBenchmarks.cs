using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using TaiCache.Tiering;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// L1-hit GetOrSet with Redis configured as L2: TaiCache vs FusionCache 2.9 vs HybridCache; then TaiCache and
/// FusionCache again with eager refresh on (threshold 0.9 of a one-hour TTL, so each read checks the value's age and
/// none refreshes).
/// </summary>
[MemoryDiagnoser]
public class MultiTierL1HitBenchmarks
{
    private const string Key = "bench:l1hit";
    private const string EagerKey = "bench:l1hit:eager";
    private static readonly Product Value = Product.Sample(42);
    private static readonly MultiTierEntryOptions TaiEager = new() { Ttl = TimeSpan.FromHours(1), EagerRefreshThreshold = 0.9 };
    private static readonly FusionCacheEntryOptions FusionEager = new() { Duration = TimeSpan.FromHours(1), EagerRefreshThreshold = 0.9f };
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
        await TaiCacheGetOrSetEagerRefresh();
        await FusionGetOrSetEagerRefresh();
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

    [Benchmark]
    public ValueTask<Product> TaiCacheGetOrSetEagerRefresh() => _tai.GetOrSetAsync(EagerKey, 0, static (_, _) => new ValueTask<Product>(Value), TaiEager);

    [Benchmark]
    public ValueTask<Product> FusionGetOrSetEagerRefresh() => _fusion.GetOrSetAsync<Product>(EagerKey, static (_, _) => Task.FromResult(Value), FusionEager);
}
