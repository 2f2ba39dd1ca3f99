using BenchmarkDotNet.Attributes;
using TaiCache.Memcached;

namespace TaiCache.Benchmarks.Memcached;

/// <summary>
/// 50 concurrent callers doing 100,000 gets or sets in all (2,000 keys, 400-byte values, as memcslap does), for the
/// comparison with <c>memcslap --concurrency=50</c> run by <c>run-throughput.sh</c> against the same server.
/// Mean time per operation is reported; throughput is 1 / mean.
/// </summary>
[MemoryDiagnoser]
public class MemcachedThroughputBenchmarks
{
    private const int Callers = 50;
    private const int Operations = 100_000;
    private const int KeyCount = 2_000;
    private static readonly byte[] Payload = new byte[400];

    private BenchServers _servers = null!;
    private MemcachedCache _cache = null!;
    private string[] _keys = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _servers = BenchServers.Start(redis: false);
        var o = new MemcachedCacheOptions { MaxConnectionsPerNode = Callers };
        o.Servers.Add(MemcachedServer.Parse(_servers.Memcached));
        _cache = new MemcachedCache(o);
        _keys = Enumerable.Range(0, KeyCount).Select(i => $"bench:throughput:{i:D6}:{new string('k', 80)}").ToArray();
        await _cache.SetManyAsync(_keys.Select(k => KeyValuePair.Create(k, Payload)));
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _cache.DisposeAsync();
        _servers.Dispose();
    }

    [Benchmark(Description = "50 callers get", OperationsPerInvoke = Operations)]
    public Task Get50() => RunAsync(static async (cache, key) => _ = await cache.GetAsync<byte[]>(key));

    [Benchmark(Description = "50 callers set", OperationsPerInvoke = Operations)]
    public Task Set50() => RunAsync(static (cache, key) => cache.SetAsync(key, Payload));

    private Task RunAsync(Func<MemcachedCache, string, ValueTask> op)
    {
        var workers = new Task[Callers];
        for (var w = 0; w < Callers; w++)
        {
            var start = w;
            workers[w] = Task.Run(async () =>
            {
                for (var i = 0; i < Operations / Callers; i++)
                {
                    await op(_cache, _keys[(start * 37 + i) % KeyCount]);
                }
            });
        }

        return Task.WhenAll(workers);
    }
}
