using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// <c>SetManyAsync</c> of large values sends each value from its encoded array. It used to copy every value again into
/// one request buffer per node, grown by doubling, so a batch allocated about four times its size (a 300 MB batch,
/// 1.7 GB). Runs in the non-parallel collection, so the process-wide allocation count is this test's.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedBatchMemoryTests : IAsyncLifetime
{
    private const int Values = 40;
    private const int ValueBytes = 512 * 1024;
    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next(), "-m", "256");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task SetManyAsync_LargeValues_AllocatesLittleMoreThanTheEncodedValues()
    {
        var key = $"{nameof(MemcachedBatchMemoryTests)}:{Guid.NewGuid():N}";
        var random = new Random(7);
        var items = Enumerable.Range(0, Values).Select(i =>
        {
            var value = new byte[ValueBytes];
            random.NextBytes(value); // incompressible, so the encoded values are as large as the batch
            return KeyValuePair.Create($"{key}:{i}", value);
        }).ToList();
        await using var cache = new MemcachedCache(new MemcachedCacheOptions
        {
            Servers = { new MemcachedServer("127.0.0.1", _server.Port) },
            OperationTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PoolTimeout = TimeSpan.FromSeconds(5),
        });
        await cache.SetAsync(key + ":warm", 1); // the connection, pooled

        var before = GC.GetTotalAllocatedBytes(precise: true);
        await cache.SetManyAsync(items).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // The encoded copies are the batch's size (kept for an all-or-nothing check and a re-send); allow half as much again.
        long batch = (long)Values * ValueBytes;
        Assert.True(allocated < batch * 3 / 2, $"SetManyAsync of {batch} bytes allocated {allocated} bytes");
        Assert.Equal(items[^1].Value, (await cache.GetAsync<byte[]>(items[^1].Key)).Value);
        Assert.Equal(items[0].Value, (await cache.GetAsync<byte[]>(items[0].Key)).Value);
    }
}
