using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// An item larger than this cache's <see cref="MemcachedCacheOptions.MaxItemBytes"/>, written by a client with a larger
/// limit to a server started with <c>-I 2m</c>: reading it is a data error naming the key and the option, its bytes are
/// discarded and the connection goes back to the pool. It used to be a "malformed response" connection failure that
/// closed the connection, drained the node's pool and failed the batch with a connection error.
/// </summary>
public sealed class MemcachedOversizeItemTests : IAsyncLifetime
{
    private const int BigBytes = 1_500_000;
    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next(), "-I", "2m");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string Key(string test) => $"{nameof(MemcachedOversizeItemTests)}:{test}:{Guid.NewGuid():N}";

    private MemcachedCache Cache(int maxItemBytes) => new(new MemcachedCacheOptions
    {
        Servers = { new MemcachedServer("127.0.0.1", _server.Port) },
        MaxItemBytes = maxItemBytes,
        OperationTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PoolTimeout = TimeSpan.FromSeconds(5),
        MaxConnectionsPerNode = 1, // one connection: the calls after a failure show whether it survived
        DeadNodeRetryInterval = TimeSpan.FromSeconds(30),
        MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30),
    });

    private async Task<(string Big, string Small, byte[] Value)> WriteBigAsync(string key)
    {
        var value = new byte[BigBytes];
        new Random(7).NextBytes(value);
        await using var writer = Cache(2 * 1024 * 1024);
        await writer.SetAsync(key + ":big", value);
        await writer.SetAsync(key + ":small", "small");
        return (key + ":big", key + ":small", value);
    }

    [Fact]
    public async Task GetAsync_ItemOverMaxItemBytes_ThrowsTooLargeAndKeepsTheConnection()
    {
        var (big, small, _) = await WriteBigAsync(Key(nameof(GetAsync_ItemOverMaxItemBytes_ThrowsTooLargeAndKeepsTheConnection)));
        await using var reader = Cache(1024 * 1024);
        Assert.Equal("small", (await reader.GetAsync<string>(small)).Value);

        var ex = await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await reader.GetAsync<byte[]>(big));
        Assert.Equal(big, ex.Key);
        Assert.Contains("MaxItemBytes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, reader.Nodes[0].IdleConnections); // back in the pool, not closed
        Assert.Equal("small", (await reader.GetAsync<string>(small)).Value);
        Assert.Equal(1, reader.OpenConnectionCount);

        await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await reader.TouchAsync(big, TimeSpan.FromMinutes(5)));
        Assert.True(await reader.ExistsAsync(big));
        Assert.False(await reader.AddAsync(big, "other"));
        Assert.Equal(1, reader.Nodes[0].IdleConnections);
        Assert.False(reader.Nodes[0].IsDown());
    }

    [Fact]
    public async Task GetManyAsync_BatchWithAnItemOverMaxItemBytes_ThrowsTooLargeAndTheNextBatchWorks()
    {
        var key = Key(nameof(GetManyAsync_BatchWithAnItemOverMaxItemBytes_ThrowsTooLargeAndTheNextBatchWorks));
        var (big, small, value) = await WriteBigAsync(key);
        await using var reader = Cache(1024 * 1024);

        var ex = await Assert.ThrowsAsync<CacheValueTooLargeException>(async () => await reader.GetManyAsync<string>([small, big, key + ":missing"]));
        Assert.Equal(big, ex.Key);
        Assert.Equal(1, reader.Nodes[0].IdleConnections);
        var read = await reader.GetManyAsync<string>([small, key + ":missing"]);
        Assert.Equal("small", read[small]);
        Assert.Single(read);

        // A reader with the larger limit still reads it whole.
        await using var wide = Cache(2 * 1024 * 1024);
        Assert.Equal(value, (await wide.GetAsync<byte[]>(big)).Value);
    }
}
