using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BitFaster.Caching.Lfu;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Memory;

/// <summary>
/// Hit throughput: a Zipf(0.99) stream over 100,000 string keys, every key present, on 1 and 2 threads.
/// One benchmark operation is one lookup (OperationsPerInvoke), so Mops/s = 1000 / (ns per op).
/// </summary>
[MemoryDiagnoser]
public class HitThroughputBenchmarks
{
    private const int KeyCount = 100_000;
    private const int Lookups = 1 << 21;

    private string[] _sequence = [];
    private ConcurrentDictionary<string, string> _dictionary = null!;
    private InMemoryTier _tai = null!;
    private ConcurrentLru<string, string> _lru = null!;
    private ConcurrentLfu<string, string> _lfu = null!;
    private MemoryCache _memory = null!;
    private FusionCache _fusion = null!;
    private ServiceProvider _services = null!;
    private HybridCache _hybrid = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var keys = Zipf.Keys(KeyCount);
        _sequence = Zipf.Sequence(keys, 0.99, Lookups, seed: 7);
        _dictionary = Peers.Dictionary();
        _tai = Peers.TaiCache(KeyCount * 2);
        _lru = Peers.BitFasterLru(KeyCount * 2);
        _lfu = Peers.BitFasterLfu(KeyCount * 2);
        _memory = Peers.MemoryCache(null);
        _fusion = Peers.FusionCache(null);
        (_services, _hybrid) = Peers.HybridCache();
        // One cache per loop: filling them key by key interleaves their allocations and pins every node of a cache at
        // one cache-line offset chosen by the other caches' sizes (see TaiCache.HitRatio's HitThroughput).
        Fill(keys, key => _dictionary[key] = key);
        Fill(keys, key => _tai.Set(key, key));
        Fill(keys, key => _lru.AddOrUpdate(key, key));
        Fill(keys, key => _lfu.AddOrUpdate(key, key));
        Fill(keys, key => _memory.Set(key, key));
        Fill(keys, key => _fusion.Set(key, key));
        Fill(keys, key => _hybrid.SetAsync(key, key).AsTask().GetAwaiter().GetResult());
    }

    private static void Fill(string[] keys, Action<string> set)
    {
        foreach (var key in keys)
        {
            set(key);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _memory.Dispose();
        _fusion.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public void ConcurrentDictionary() => Run(new DictionaryReader(_dictionary));

    [Benchmark(OperationsPerInvoke = Lookups)]
    public void TaiCache() => Run(new TaiReader(_tai));

    [Benchmark(OperationsPerInvoke = Lookups)]
    public void BitFasterConcurrentLru() => Run(new LruReader(_lru));

    [Benchmark(OperationsPerInvoke = Lookups)]
    public void BitFasterConcurrentLfu() => Run(new LfuReader(_lfu));

    [Benchmark(OperationsPerInvoke = Lookups)]
    public void MemoryCache() => Run(new MemoryReader(_memory));

    [Benchmark(OperationsPerInvoke = Lookups)]
    public void FusionCache() => Run(new FusionReader(_fusion));

    [Benchmark(OperationsPerInvoke = Lookups)]
    public void HybridCache() => Run(new HybridReader(_hybrid));

    private void Run<TReader>(TReader reader)
        where TReader : struct, IReader
    {
        var sequence = _sequence;
        var threads = Threads;
        var per = sequence.Length / threads;
        Peers.OnThreads(threads, slice =>
        {
            // Each thread walks the same stream from a different offset; the reader is a struct so the lookup inlines.
            var start = slice * per;
            var hits = 0;
            for (var i = 0; i < per; i++)
            {
                if (reader.Read(sequence[(start + i) & (Lookups - 1)]))
                {
                    hits++;
                }
            }

            if (hits != per)
            {
                throw new InvalidOperationException($"{hits} hits of {per}: every key must be present.");
            }
        });
    }
}
