using BenchmarkDotNet.Attributes;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Tiering;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// 10,000 sets from 50 concurrent tasks over 1,000 keys (per operation figures): write-behind (acknowledged after L1,
/// and again including the flush to Redis), write-through, and raw StackExchange.Redis SET with MessagePack.
/// </summary>
[MemoryDiagnoser]
public class MultiTierWriteBenchmarks
{
    private const int Tasks = 50;
    private const int PerTask = 200;
    private const int Ops = Tasks * PerTask;
    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);
    private static readonly Product Value = Product.Sample(7);
    private BenchRedis _redis = null!;
    private MultiTierCache _behind = null!;
    private MultiTierCache _through = null!;
    private ConnectionMultiplexer _raw = null!;
    private IDatabase _db = null!;
    private string _prefix = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _redis = BenchRedis.Start();
        _prefix = $"write:{Guid.NewGuid():N}:";
        (_behind, _, _) = await PeerSetup.TaiCacheAsync(_redis.Endpoint, _prefix + "wb:", WriteStrategy.WriteBehind);
        (_through, _, _) = await PeerSetup.TaiCacheAsync(_redis.Endpoint, _prefix + "wt:", WriteStrategy.WriteThrough);
        _raw = await PeerSetup.RawAsync(_redis.Endpoint);
        _db = _raw.GetDatabase();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _behind.DisposeAsync();
        await _through.DisposeAsync();
        await _raw.DisposeAsync();
        _redis.Dispose();
    }

    private static Task Run(Func<int, Task> body) =>
        Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < PerTask; i++)
            {
                await body((t * PerTask + i) % 1000);
            }
        })));

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public Task RawSet() => Run(k => _db.StringSetAsync(_prefix + "raw:k" + k, MessagePackSerializer.Serialize(Value, Contractless), PeerSetup.Duration));

    [Benchmark(OperationsPerInvoke = Ops)]
    public Task WriteThrough() => Run(k => _through.SetAsync("k" + k, Value).AsTask());

    [Benchmark(OperationsPerInvoke = Ops)]
    public Task WriteBehindAcknowledged() => Run(k => _behind.SetAsync("k" + k, Value).AsTask());

    [Benchmark(OperationsPerInvoke = Ops)]
    public async Task WriteBehindFlushed()
    {
        await Run(k => _behind.SetAsync("k" + k, Value).AsTask());
        await _behind.FlushAsync();
    }
}
