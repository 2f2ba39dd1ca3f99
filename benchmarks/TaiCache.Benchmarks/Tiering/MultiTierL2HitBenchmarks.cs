using BenchmarkDotNet.Attributes;
using MessagePack;
using MessagePack.Resolvers;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TaiCache.Tiering;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// L2 hit with an L1 miss: each TaiCache read first drops the key from L1; FusionCache skips its memory read
/// (SkipMemoryCacheRead) and HybridCache its local read (DisableLocalCacheRead). Baseline: raw StackExchange.Redis GET
/// plus MessagePack deserialize.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(PercentileConfig))]
public class MultiTierL2HitBenchmarks
{
    private const string Key = "bench:l2hit";
    private static readonly Product Value = Product.Sample(42);
    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);
    private static readonly FusionCacheEntryOptions FusionSkipL1 = new() { Duration = PeerSetup.Duration, SkipMemoryCacheRead = true };
    private static readonly HybridCacheEntryOptions HybridSkipL1 = new() { Expiration = PeerSetup.Duration, Flags = HybridCacheEntryFlags.DisableLocalCacheRead };
    private BenchRedis _redis = null!;
    private MultiTierCache _tai = null!;
    private InMemoryTier _taiL1 = null!;
    private FusionCache _fusion = null!;
    private HybridCache _hybrid = null!;
    private ServiceProvider _services = null!;
    private ConnectionMultiplexer _raw = null!;
    private IDatabase _db = null!;
    private string _rawKey = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _redis = BenchRedis.Start();
        var prefix = $"l2:{Guid.NewGuid():N}:";
        (_tai, _taiL1, _) = await PeerSetup.TaiCacheAsync(_redis.Endpoint, prefix);
        _fusion = PeerSetup.Fusion(_redis.Endpoint, prefix);
        (_hybrid, _services) = PeerSetup.Hybrid(_redis.Endpoint, prefix);
        _raw = await PeerSetup.RawAsync(_redis.Endpoint);
        _db = _raw.GetDatabase();
        _rawKey = prefix + "raw";
        await _tai.SetAsync(Key, Value);
        await _fusion.SetAsync(Key, Value);
        await _hybrid.SetAsync(Key, Value);
        await _db.StringSetAsync(_rawKey, MessagePackSerializer.Serialize(Value, Contractless));
        Console.WriteLine($"// payload: {MessagePackSerializer.Serialize(Value, Contractless).Length} bytes contractless MessagePack");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _tai.DisposeAsync();
        _fusion.Dispose();
        await _services.DisposeAsync();
        await _raw.DisposeAsync();
        _redis.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<Product> RawGetDeserialize()
    {
        var bytes = (ReadOnlyMemory<byte>)(await _db.StringGetAsync(_rawKey));
        return MessagePackSerializer.Deserialize<Product>(bytes, Contractless);
    }

    [Benchmark]
    public async Task<Product> TaiCacheL2Hit()
    {
        _taiL1.Remove(Key);
        return (await _tai.GetAsync<Product>(Key)).Value;
    }

    [Benchmark]
    public async Task<Product> FusionL2Hit() => await _fusion.GetOrSetAsync<Product>(Key, static (_, _) => Task.FromResult(Value), options: FusionSkipL1);

    [Benchmark]
    public async Task<Product> HybridL2Hit() => await _hybrid.GetOrCreateAsync(Key, 0, static (_, _) => new ValueTask<Product>(Value), HybridSkipL1);
}
