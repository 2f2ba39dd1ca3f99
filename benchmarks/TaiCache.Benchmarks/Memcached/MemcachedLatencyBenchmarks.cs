using BenchmarkDotNet.Attributes;
using StackExchange.Redis;
using TaiCache.Memcached;
using TaiCache.Redis;
using TaiCache.Serialization;

namespace TaiCache.Benchmarks.Memcached;

/// <summary>
/// One caller: single get/set latency and a pipelined 100-key get, TaiCache's memcached client beside the same work done
/// the way RedisCache does it (StackExchange.Redis plus TaiCache's value codec) on a local redis-server.
/// </summary>
[MemoryDiagnoser]
public class MemcachedLatencyBenchmarks
{
    private const int BatchSize = 100;
    private static readonly byte[] Payload = new byte[400];

    private BenchServers _servers = null!;
    private MemcachedCache _memcached = null!;
    private ConnectionMultiplexer _redis = null!;
    private IDatabase _db = null!;
    private RedisCache _redisCache = null!;
    private string[] _keys = null!;
    private RedisKey[] _redisKeys = null!;
    private int _next;

    [GlobalSetup]
    public async Task Setup()
    {
        _servers = BenchServers.Start(redis: true);
        var o = new MemcachedCacheOptions();
        o.Servers.Add(MemcachedServer.Parse(_servers.Memcached));
        _memcached = new MemcachedCache(o);
        _redis = await ConnectionMultiplexer.ConnectAsync(_servers.Redis);
        _db = _redis.GetDatabase();
        _redisCache = new RedisCache(_redis);
        _keys = Enumerable.Range(0, BatchSize).Select(i => $"bench:latency:{i:D4}").ToArray();
        _redisKeys = _keys.Select(k => (RedisKey)k).ToArray();
        foreach (var k in _keys)
        {
            await _memcached.SetAsync(k, Payload);
            await _db.StringSetAsync(k, CacheValueCodec.Default.Encode(k, Payload));
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _memcached.DisposeAsync();
        await _redisCache.DisposeAsync();
        await _redis.DisposeAsync();
        _servers.Dispose();
    }

    private string NextKey() => _keys[_next++ % BatchSize];

    [Benchmark(Description = "memcached get (TaiCache)")]
    public async Task<byte[]> MemcachedGet() => (await _memcached.GetAsync<byte[]>(NextKey())).Value;

    [Benchmark(Description = "redis get (SE.Redis + codec)")]
    public async Task<byte[]> RedisGet()
    {
        var k = NextKey();
        var raw = await _db.StringGetAsync(k);
        return CacheValueCodec.Default.Decode<byte[]>(k, (byte[])raw!);
    }

    [Benchmark(Description = "memcached set (TaiCache)")]
    public ValueTask MemcachedSet() => _memcached.SetAsync(NextKey(), Payload);

    [Benchmark(Description = "redis set (SE.Redis + codec)")]
    public Task<bool> RedisSet()
    {
        var k = NextKey();
        return _db.StringSetAsync(k, CacheValueCodec.Default.Encode(k, Payload));
    }

    [Benchmark(Description = "memcached get_multi 100 (TaiCache)", OperationsPerInvoke = BatchSize)]
    public async Task<int> MemcachedGetMany() => (await _memcached.GetManyAsync<byte[]>(_keys)).Count;

    [Benchmark(Description = "redis MGET 100 (SE.Redis + codec)", OperationsPerInvoke = BatchSize)]
    public async Task<int> RedisGetMany()
    {
        var values = await _db.StringGetAsync(_redisKeys);
        var found = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (!values[i].IsNull)
            {
                _ = CacheValueCodec.Default.Decode<byte[]>(_keys[i], (byte[])values[i]!);
                found++;
            }
        }

        return found;
    }

    [Benchmark(Description = "redis get (RedisCache)")]
    public async Task<byte[]> RedisCacheGet() => (await _redisCache.GetAsync<byte[]>(NextKey())).Value;

    [Benchmark(Description = "redis set (RedisCache)")]
    public ValueTask RedisCacheSet() => _redisCache.SetAsync(NextKey(), Payload);

    [Benchmark(Description = "redis GetMany 100 (RedisCache)", OperationsPerInvoke = BatchSize)]
    public async Task<int> RedisCacheGetMany() => (await _redisCache.GetManyAsync<byte[]>(_keys)).Count;
}
