using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BitFaster.Caching.Lfu;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Memory;

/// <summary>Latency of one hit: a present string key, read once per operation, single thread.</summary>
[MemoryDiagnoser]
public class HitLatencyBenchmarks
{
    private const string Key = "user:000042";
    private ConcurrentDictionary<string, string> _dictionary = null!;
    private InMemoryTier _tai = null!;
    private ConcurrentLru<string, string> _lru = null!;
    private ConcurrentLfu<string, string> _lfu = null!;
    private MemoryCache _memory = null!;
    private FusionCache _fusion = null!;
    private ServiceProvider _services = null!;
    private HybridCache _hybrid = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dictionary = Peers.Dictionary();
        _tai = Peers.TaiCache(1000);
        _lru = Peers.BitFasterLru(1000);
        _lfu = Peers.BitFasterLfu(1000);
        _memory = Peers.MemoryCache(null);
        _fusion = Peers.FusionCache(null);
        (_services, _hybrid) = Peers.HybridCache();
        _dictionary[Key] = Key;
        _tai.Set(Key, Key);
        _lru.AddOrUpdate(Key, Key);
        _lfu.AddOrUpdate(Key, Key);
        _memory.Set(Key, Key);
        _fusion.Set(Key, Key);
        _hybrid.SetAsync(Key, Key).AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _memory.Dispose();
        _fusion.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public string? ConcurrentDictionary() => _dictionary.TryGetValue(Key, out var v) ? v : null;

    [Benchmark]
    public string? TaiCache() => _tai.TryGet<string>(Key, out var v) ? v : null;

    [Benchmark]
    public string? BitFasterConcurrentLru() => _lru.TryGet(Key, out var v) ? v : null;

    [Benchmark]
    public string? BitFasterConcurrentLfu() => _lfu.TryGet(Key, out var v) ? v : null;

    [Benchmark]
    public string? MemoryCache() => _memory.TryGetValue(Key, out string? v) ? v : null;

    [Benchmark]
    public string? FusionCache() => _fusion.TryGet<string>(Key).GetValueOrDefault();

    [Benchmark]
    public string? HybridCache()
    {
        var pending = _hybrid.GetOrCreateAsync<string?>(Key, static _ => default, Peers.HybridReadOnly);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }
}
