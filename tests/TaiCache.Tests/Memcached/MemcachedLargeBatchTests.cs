using System.Diagnostics;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// Batches of large values over a slow link (a real memcached behind <see cref="TcpFaultProxy"/> with a delay per
/// 16 KiB chunk): the operation timeout is a stall timeout, so a batch that keeps moving succeeds however long it takes,
/// and the node is not marked down. The timeout used to be a fixed total scaled by key count only, so a few megabytes
/// timed out on a healthy node, and each timeout counted toward <see cref="MemcachedCacheOptions.FailureThreshold"/>.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedLargeBatchTests : IAsyncLifetime
{
    private const int Values = 40;
    private const int ValueBytes = 128 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);

    // The batches that must succeed: a stall timeout a loaded machine's pauses (a gen 2 collection of these megabytes,
    // a starved proxy) stay under, and a link slow enough that each batch still outlasts it several times over.
    private static readonly TimeSpan MovingTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SlowLink = TimeSpan.FromMilliseconds(12);

    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string Key(string test) => $"{nameof(MemcachedLargeBatchTests)}:{test}:{Guid.NewGuid():N}";

    private static MemcachedCache Cache(int port, TimeSpan operationTimeout) => new(new MemcachedCacheOptions
    {
        Servers = { new MemcachedServer("127.0.0.1", port) },
        OperationTimeout = operationTimeout,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PoolTimeout = TimeSpan.FromSeconds(5),
        FailureThreshold = 1, // one timeout would mark the node down
        DeadNodeRetryInterval = TimeSpan.FromSeconds(30),
        MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30),
    });

    // Random bytes: they do not compress, so the batch really carries megabytes.
    private static List<KeyValuePair<string, byte[]>> Items(string key)
    {
        var random = new Random(42);
        return Enumerable.Range(0, Values).Select(i =>
        {
            var value = new byte[ValueBytes];
            random.NextBytes(value);
            return KeyValuePair.Create($"{key}:{i}", value);
        }).ToList();
    }

    [Fact]
    public async Task GetManyAsync_LargeValuesOverSlowLink_SucceedsAndNodeStaysUp()
    {
        var key = Key(nameof(GetManyAsync_LargeValuesOverSlowLink_SucceedsAndNodeStaysUp));
        var items = Items(key);
        await using (var direct = Cache(_server.Port, TimeSpan.FromSeconds(10)))
        {
            await direct.SetManyAsync(items);
        }

        await using var proxy = new TcpFaultProxy(_server.Port) { Latency = SlowLink };
        await using var cache = Cache(proxy.Port, MovingTimeout);
        for (var round = 0; round < 2; round++)
        {
            var watch = Stopwatch.StartNew();
            var read = await cache.GetManyAsync<byte[]>(items.Select(i => i.Key)).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            watch.Stop();
            Assert.Equal(Values, read.Count);
            Assert.All(items, i => Assert.Equal(i.Value, read[i.Key]));

            // The scenario is meaningful only if the batch outlasted the timeout several times over.
            Assert.True(watch.Elapsed > MovingTimeout * 2, $"the batch took only {watch.Elapsed}");
        }

        Assert.False(cache.Nodes[0].IsDown());
        Assert.True((await cache.GetAsync<byte[]>(items[0].Key)).HasValue);
    }

    [Fact]
    public async Task SetManyAsync_LargeValuesOverSlowLink_SucceedsAndNodeStaysUp()
    {
        var key = Key(nameof(SetManyAsync_LargeValuesOverSlowLink_SucceedsAndNodeStaysUp));
        var items = Items(key);
        await using var proxy = new TcpFaultProxy(_server.Port, clientReceiveBufferBytes: 64 * 1024) { Latency = SlowLink };
        await using var cache = Cache(proxy.Port, MovingTimeout);
        var watch = Stopwatch.StartNew();
        await cache.SetManyAsync(items).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        watch.Stop();
        Assert.True(watch.Elapsed > MovingTimeout * 2, $"the batch took only {watch.Elapsed}");
        Assert.False(cache.Nodes[0].IsDown());

        await using var direct = Cache(_server.Port, TimeSpan.FromSeconds(10));
        var read = await direct.GetManyAsync<byte[]>(items.Select(i => i.Key));
        Assert.All(items, i => Assert.Equal(i.Value, read[i.Key]));
    }

    [Fact]
    public async Task GetManyAsync_LinkStallsMidBatch_TimesOutSoonAfterTheStall()
    {
        var key = Key(nameof(GetManyAsync_LinkStallsMidBatch_TimesOutSoonAfterTheStall));
        var items = Items(key);
        await using (var direct = Cache(_server.Port, TimeSpan.FromSeconds(10)))
        {
            await direct.SetManyAsync(items);
        }

        await using var proxy = new TcpFaultProxy(_server.Port) { Latency = TimeSpan.FromMilliseconds(3) };
        await using var cache = Cache(proxy.Port, Timeout);
        var read = cache.GetManyAsync<byte[]>(items.Select(i => i.Key)).AsTask();
        await Task.Delay(300);
        proxy.Drop = true; // the link goes silent mid-batch
        var stalled = Stopwatch.StartNew();
        await Assert.ThrowsAsync<CacheTimeoutException>(() => read.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(stalled.Elapsed < TimeSpan.FromSeconds(5), $"the stall was seen after {stalled.Elapsed}");
    }
}
