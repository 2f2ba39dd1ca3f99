using BenchmarkDotNet.Attributes;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Tiering;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// Batch read of 100 keys through L2 (L1 dropped first): TaiCache GetManyAsync and GetOrSetManyAsync vs raw MGET plus
/// 100 MessagePack deserializations. FusionCache and HybridCache have no batch read.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PercentileConfig))]
public class MultiTierBatchBenchmarks
{
    private const int Count = 100;
    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);
    private BenchRedis _redis = null!;
    private MultiTierCache _tai = null!;
    private InMemoryTier _taiL1 = null!;
    private ConnectionMultiplexer _raw = null!;
    private IDatabase _db = null!;
    private string[] _keys = null!;
    private RedisKey[] _rawKeys = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _redis = BenchRedis.Start();
        var prefix = $"batch:{Guid.NewGuid():N}:";
        (_tai, _taiL1, _) = await PeerSetup.TaiCacheAsync(_redis.Endpoint, prefix);
        _raw = await PeerSetup.RawAsync(_redis.Endpoint);
        _db = _raw.GetDatabase();
        _keys = Enumerable.Range(0, Count).Select(i => $"k{i}").ToArray();
        _rawKeys = _keys.Select(k => (RedisKey)(prefix + "raw:" + k)).ToArray();
        await _tai.SetManyAsync(_keys.Select((k, i) => KeyValuePair.Create(k, Product.Sample(i))));
        for (var i = 0; i < Count; i++)
        {
            await _db.StringSetAsync(_rawKeys[i], MessagePackSerializer.Serialize(Product.Sample(i), Contractless));
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _tai.DisposeAsync();
        await _raw.DisposeAsync();
        _redis.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<int> RawMGet100()
    {
        var values = await _db.StringGetAsync(_rawKeys);
        var n = 0;
        foreach (var v in values)
        {
            n += MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)v, Contractless).Id >= 0 ? 1 : 0;
        }

        return n;
    }

    [Benchmark]
    public async Task<int> TaiCacheGetMany100()
    {
        foreach (var k in _keys)
        {
            _taiL1.Remove(k);
        }

        return (await _tai.GetManyAsync<Product>(_keys)).Count;
    }

    [Benchmark]
    public async Task<int> TaiCacheGetOrSetMany100()
    {
        foreach (var k in _keys)
        {
            _taiL1.Remove(k);
        }

        var result = await _tai.GetOrSetManyAsync<Product>(_keys, static (missing, _) =>
            new ValueTask<IReadOnlyDictionary<string, Product>>(missing.ToDictionary(k => k, k => Product.Sample(0))));
        return result.Count;
    }
}
