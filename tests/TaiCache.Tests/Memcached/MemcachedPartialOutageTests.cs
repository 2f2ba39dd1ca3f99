using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// <see cref="CacheConnectionException.IsPartialOutage"/> from the first failure of an outage on one node of several, not
/// only once the node is known down: the failed connect that marks it down, and a connection that fails under a call,
/// said <see langword="false"/>, so a multi-tier cache counted them against the tier's breaker.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedPartialOutageTests : IAsyncLifetime
{
    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static MemcachedCache Cache(params int[] ports)
    {
        var o = new MemcachedCacheOptions
        {
            OperationTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PoolTimeout = TimeSpan.FromSeconds(5),
            DeadNodeRetryInterval = TimeSpan.FromSeconds(30),
            MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30),
        };
        foreach (var port in ports)
        {
            o.Servers.Add(new MemcachedServer("127.0.0.1", port));
        }

        return new MemcachedCache(o);
    }

    private static string KeyOn(MemcachedCache cache, int port, string test) =>
        Enumerable.Range(0, 1000).Select(i => $"{nameof(MemcachedPartialOutageTests)}:{test}:{i}").First(k => cache.GetServerForKey(k).Port == port);

    [Fact]
    public async Task GetAsync_FirstFailedConnectToOneNodeOfTwo_IsPartialOutage()
    {
        var dead = FreePort.Next();
        await using var cache = Cache(_server.Port, dead);
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(KeyOn(cache, dead, "connect")));
        Assert.True(ex.IsPartialOutage, ex.Message);
        Assert.True(cache.Nodes[1].IsDown());
        Assert.False((await cache.GetAsync<string>(KeyOn(cache, _server.Port, "connect"))).HasValue); // the other serves
    }

    [Fact]
    public async Task IncrementAsync_ConnectionCutUnderTheCallOnOneNodeOfTwo_IsPartialOutage()
    {
        await using var proxy = new TcpFaultProxy(_server.Port);
        await using var cache = Cache(_server.Port, proxy.Port);
        var key = KeyOn(cache, proxy.Port, "io");
        await cache.SetAsync(key + ":warm", "v"); // the connection through the proxy, pooled

        // The increment's request is swallowed, then the connection is cut: not re-sent (it may have been applied),
        // so the I/O failure itself reaches the caller.
        proxy.Drop = true;
        var call = cache.IncrementAsync(key).AsTask();
        for (var waited = 0; proxy.DroppedBytes == 0 && waited < 10_000; waited += 10)
        {
            await Task.Delay(10);
        }

        Assert.True(proxy.DroppedBytes > 0, "the proxy never saw the request");
        proxy.CutAll();
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("failed during the operation", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.IsPartialOutage, ex.Message);
    }

    [Fact]
    public async Task GetAsync_EveryOtherNodeDown_IsNotPartialOutage()
    {
        var dead = FreePort.Next();
        var deadToo = FreePort.Next();
        await using var cache = Cache(dead, deadToo);
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(KeyOn(cache, deadToo, "all")));
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(KeyOn(cache, dead, "all")));
        Assert.False(ex.IsPartialOutage, ex.Message);

        // Both marked down now: a call on either fails at once, and that is a whole outage too.
        Assert.True(cache.Nodes.All(n => n.IsDown()));
        ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(KeyOn(cache, dead, "all")));
        Assert.Contains("marked down", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.IsPartialOutage, ex.Message);
    }

    [Fact]
    public async Task GetAsync_MalformedResponseFromOneNodeOfTwo_IsPartialOutage()
    {
        // A node that answers garbage breaks the connection under the call, as a reset does: the exception said
        // IsPartialOutage = false, so a multi-tier cache counted one bad node against the whole tier's breaker.
        await using var fake = new FakeMemcachedServer();
        await using var cache = Cache(_server.Port, fake.Port);
        var key = KeyOn(cache, fake.Port, "garbage");
        fake.Script.Enqueue((_ => "NONSENSE\r\n"u8.ToArray(), false));
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(key));
        Assert.Contains("malformed response", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.IsPartialOutage, ex.Message);
        Assert.False((await cache.GetAsync<string>(KeyOn(cache, _server.Port, "garbage"))).HasValue); // the other serves
    }
}
