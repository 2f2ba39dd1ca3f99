using BenchmarkDotNet.Attributes;

namespace TaiCache.Benchmarks.Memory;

/// <summary>
/// 90% reads / 10% writes over a Zipf(0.99) stream of 100,000 string keys, each cache bounded to 10,000 entries
/// (10% of the keys), on 1 and 2 threads. One operation is one read or write.
/// </summary>
/// <remarks>
/// ConcurrentDictionary is unbounded (the baseline of raw map speed, holding every key). HybridCache's local tier is
/// not bounded by entry count here (it offers no count limit of its own), so it holds every key too.
/// </remarks>
[MemoryDiagnoser]
public class ReadWriteMixBenchmarks
{
    private const int KeyCount = 100_000;
    private const int Capacity = KeyCount / 10;
    private const int Operations = 1 << 20;

    private string[] _sequence = [];

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup() => _sequence = Zipf.Sequence(Zipf.Keys(KeyCount), 0.99, Operations, seed: 11);

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public void ConcurrentDictionary() => Run(new DictionaryReader(Peers.Dictionary()));

    [Benchmark(OperationsPerInvoke = Operations)]
    public void TaiCache() => Run(new TaiReader(Peers.TaiCache(Capacity)));

    [Benchmark(OperationsPerInvoke = Operations)]
    public void BitFasterConcurrentLru() => Run(new LruReader(Peers.BitFasterLru(Capacity)));

    [Benchmark(OperationsPerInvoke = Operations)]
    public void BitFasterConcurrentLfu() => Run(new LfuReader(Peers.BitFasterLfu(Capacity)));

    [Benchmark(OperationsPerInvoke = Operations)]
    public void MemoryCache()
    {
        using var cache = Peers.MemoryCache(Capacity);
        Run(new MemoryReader(cache));
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public void FusionCache()
    {
        using var cache = Peers.FusionCache(Capacity);
        Run(new FusionReader(cache));
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public void HybridCache()
    {
        var (services, cache) = Peers.HybridCache();
        using (services)
        {
            Run(new HybridReader(cache));
        }
    }

    // A fresh cache per invocation (cheap next to a million operations) so every run starts cold alike.
    private void Run<TReader>(TReader cache)
        where TReader : struct, IReader
    {
        var sequence = _sequence;
        var threads = Threads;
        var per = sequence.Length / threads;
        Peers.OnThreads(threads, slice =>
        {
            var start = slice * per;
            for (var i = 0; i < per; i++)
            {
                var key = sequence[(start + i) & (Operations - 1)];
                if (i % 10 == 9)
                {
                    cache.Write(key, key);
                }
                else
                {
                    cache.Read(key);
                }
            }
        });
    }
}
