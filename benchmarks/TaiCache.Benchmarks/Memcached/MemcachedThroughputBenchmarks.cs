using BenchmarkDotNet.Attributes;
using TaiCache.Memcached;

namespace TaiCache.Benchmarks.Memcached;

/// <summary>
/// 50 concurrent callers doing 100,000 gets or sets in all over 2,000 keys, with memcslap's size mix (keys of 10-100
/// characters, values of 0-5,000 random bytes, about 2.5 KB on average, measured with lru_crawler metadump), for the
/// comparison with <c>memcslap --concurrency=50</c> run by <c>run-throughput.sh</c> against the same server.
/// Mean time per operation is reported; throughput is 1 / mean.
/// </summary>
[MemoryDiagnoser]
public class MemcachedThroughputBenchmarks
{
    private const int Callers = 50;
    private const int Operations = 100_000;
    private const int KeyCount = 2_000;
    private byte[][] _values = null!;

    private BenchServers _servers = null!;
    private MemcachedCache _cache = null!;
    private MemcachedCache _uncompressed = null!;
    private string[] _keys = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _servers = BenchServers.Start(redis: false);
        var o = new MemcachedCacheOptions { MaxConnectionsPerNode = Callers };
        o.Servers.Add(MemcachedServer.Parse(_servers.Memcached));
        _cache = new MemcachedCache(o);
        var raw = new MemcachedCacheOptions { MaxConnectionsPerNode = Callers, Serialization = new() { CompressionThresholdBytes = null } };
        raw.Servers.Add(o.Servers[0]);
        _uncompressed = new MemcachedCache(raw);
        var random = new Random(42);
        _keys = Enumerable.Range(0, KeyCount).Select(i => $"b:{i:D6}:{new string('k', random.Next(0, 91))}").ToArray();
        _values = Enumerable.Range(0, KeyCount).Select(_ => { var v = new byte[random.Next(0, 5000)]; random.NextBytes(v); return v; }).ToArray();
        await _cache.SetManyAsync(_keys.Select((k, i) => KeyValuePair.Create(k, _values[i])));
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _cache.DisposeAsync();
        await _uncompressed.DisposeAsync();
        _servers.Dispose();
    }

    [Benchmark(Description = "50 callers get", OperationsPerInvoke = Operations)]
    public Task Get50() => RunAsync(_cache, static async (cache, key, value) => await cache.GetAsync<byte[]>(key));

    [Benchmark(Description = "50 callers set", OperationsPerInvoke = Operations)]
    public Task Set50() => RunAsync(_cache, static (cache, key, value) => cache.SetAsync(key, value));

    /// <summary>The same sets with the codec's LZ4 attempt off (memcslap's random values never compress).</summary>
    [Benchmark(Description = "50 callers set, LZ4 off", OperationsPerInvoke = Operations)]
    public Task Set50Uncompressed() => RunAsync(_uncompressed, static (cache, key, value) => cache.SetAsync(key, value));

    private Task RunAsync(MemcachedCache cache, Func<MemcachedCache, string, byte[], ValueTask> op)
    {
        var workers = new Task[Callers];
        for (var w = 0; w < Callers; w++)
        {
            var start = w;
            workers[w] = Task.Run(async () =>
            {
                for (var i = 0; i < Operations / Callers; i++)
                {
                    var k = (start * 37 + i) % KeyCount;
                    await op(cache, _keys[k], _values[k]);
                }
            });
        }

        return Task.WhenAll(workers);
    }
}
