using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// Pooled connections that died while idle (a memcached restart, a cut connection): a real memcached per test, killed and
/// restarted on the same port, or reached through <see cref="TcpFaultProxy"/> to cut a connection mid-request. Safe
/// operations must succeed on a fresh connection without marking the node down; a counter update must not be sent twice.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedReconnectTests : IAsyncLifetime
{
    private const int NodeMarkedDown = 2000;
    private const int StaleConnectionDropped = 2004;
    private const int RetryingOnFreshConnection = 2005;
    private const int NotRetriedNotIdempotent = 2006;

    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private ServerProcess _server = null!;
    private TcpFaultProxy? _proxy;

    public MemcachedReconnectTests() =>
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));

    public async Task InitializeAsync() => _server = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        await _server.DisposeAsync();
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    private static string Key(string test) => $"{nameof(MemcachedReconnectTests)}:{test}:{Guid.NewGuid():N}";

    /// <summary>A cache whose dead-node back-off is long, so a node wrongly marked down would fail the next calls of the test.</summary>
    private MemcachedCache Cache(int port) => new(new MemcachedCacheOptions
    {
        Servers = { new MemcachedServer("127.0.0.1", port) },
        OperationTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PoolTimeout = TimeSpan.FromSeconds(5),
        DeadNodeRetryInterval = TimeSpan.FromSeconds(30),
        MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30),
        LoggerFactory = _loggerFactory,
    });

    private bool Logged(int eventId) => _logs.Collector.GetSnapshot().Any(l => l.Id.Id == eventId);

    /// <summary>Fills the pool: concurrent first calls each open a connection, which then sits idle.</summary>
    private static async Task WarmPoolAsync(MemcachedCache cache, string key, int calls = 8)
    {
        await Task.WhenAll(Enumerable.Range(0, calls).Select(i => cache.SetAsync($"{key}:warm{i}", i).AsTask()));
        Assert.True(cache.OpenConnectionCount >= 2, $"the pool holds {cache.OpenConnectionCount} connection(s)");
    }

    /// <summary>Starts a call whose request the proxy swallows, then heals the proxy and cuts every proxied connection.</summary>
    private async Task<Task<T>> CutMidRequestAsync<T>(Func<Task<T>> call)
    {
        var proxy = _proxy!;
        proxy.Drop = true;
        var dropped = proxy.DroppedBytes;
        var task = call();

        // Wait until the proxy has taken (and swallowed) the request, however loaded the machine is.
        for (var waited = 0; proxy.DroppedBytes == dropped && waited < 10_000; waited += 10)
        {
            await Task.Delay(10);
        }

        Assert.True(proxy.DroppedBytes > dropped, "the proxy never saw the request");
        Assert.False(task.IsCompleted, "the call finished although the proxy swallowed its request");

        // Heal first, then cut: the swallowed request is gone either way, and a retry the cut triggers must never meet a
        // proxy still swallowing (the cache reacts to the cut on its own threads, possibly before this one runs again).
        proxy.Heal();
        proxy.CutAll();
        return task;
    }

    [Fact]
    public async Task GetAsync_FirstCallsAfterServerRestart_SucceedAndNodeIsNotMarkedDown()
    {
        await using var cache = Cache(_server.Port);
        var key = Key(nameof(GetAsync_FirstCallsAfterServerRestart_SucceedAndNodeIsNotMarkedDown));
        await WarmPoolAsync(cache, key);
        await cache.SetAsync(key, "before");

        _server.Kill();
        await _server.StartAsync();

        Assert.False((await cache.GetAsync<string>(key)).HasValue); // the first call works; the restarted server is empty
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => cache.GetAsync<int>($"{key}:warm{i}").AsTask()));
        Assert.All(concurrent, r => Assert.False(r.HasValue));
        await cache.SetAsync(key, "after");
        Assert.Equal("after", (await cache.GetAsync<string>(key)).Value);

        Assert.True(Logged(StaleConnectionDropped), "the dead pooled connections were not noticed");
        Assert.False(Logged(NodeMarkedDown), "the node was marked down although the server was back");
    }

    [Fact]
    public async Task IncrementAsync_FirstCallAfterServerRestart_DeadConnectionCaughtBeforeSendingAndCountedOnce()
    {
        await using var cache = Cache(_server.Port);
        var key = Key(nameof(IncrementAsync_FirstCallAfterServerRestart_DeadConnectionCaughtBeforeSendingAndCountedOnce));
        await WarmPoolAsync(cache, key);

        _server.Kill();
        await _server.StartAsync();

        Assert.Equal(10UL, await cache.IncrementAsync(key, delta: 1, initialValue: 10)); // created once on the new server
        Assert.Equal(11UL, await cache.IncrementAsync(key));
        Assert.False(Logged(NodeMarkedDown));
    }

    [Fact]
    public async Task GetAsync_PooledConnectionCutAfterRequestSent_RetriedOnceOnFreshConnection()
    {
        _proxy = new TcpFaultProxy(_server.Port);
        await using var cache = Cache(_proxy.Port);
        var key = Key(nameof(GetAsync_PooledConnectionCutAfterRequestSent_RetriedOnceOnFreshConnection));
        await WarmPoolAsync(cache, key, calls: 4);
        await cache.SetAsync(key, "value");
        var accepted = _proxy.AcceptedConnections;

        var get = await CutMidRequestAsync(() => cache.GetAsync<string>(key).AsTask());

        Assert.Equal("value", (await get).Value);
        Assert.Equal(accepted + 1, _proxy.AcceptedConnections); // exactly one fresh connection
        Assert.Equal(1, cache.OpenConnectionCount); // the other idle connections, cut too, were dropped at once
        Assert.True(Logged(RetryingOnFreshConnection));
        Assert.False(Logged(NodeMarkedDown));
        Assert.Equal(1, (await cache.GetAsync<int>($"{key}:warm1")).Value);
    }

    [Fact]
    public async Task AddManyAsync_AnswersLostAfterTheAddsLanded_RetryReportsItsOwnAddsAsStored_AndAnotherWritersAsNot()
    {
        _proxy = new TcpFaultProxy(_server.Port);
        await using var cache = Cache(_proxy.Port);
        var key = Key(nameof(AddManyAsync_AnswersLostAfterTheAddsLanded_RetryReportsItsOwnAddsAsStored_AndAnotherWritersAsNot));
        await WarmPoolAsync(cache, key, calls: 2);
        var keys = Enumerable.Range(0, 4).Select(i => $"{key}:{i}").ToArray();
        await cache.SetAsync(keys[2], "another writer's");
        var items = keys.Select(k => KeyValuePair.Create(k, $"mine for {k}")).ToArray();

        // The adds reach the server, their answers are swallowed, then the connection is cut: the retry on a fresh
        // connection finds every key taken, three of them by the first attempt's own adds.
        _proxy.DropResponses = true;
        var add = ((IConditionalWriter)cache).AddManyAsync(items, ttl: null, CancellationToken.None).AsTask();
        using (var raw = new MemcachedRawClient("127.0.0.1", _server.Port))
        {
            await TaiCache.Tests.Tiering.TierTestKit.Eventually(() => raw.Get(keys[3]) is not null, TimeSpan.FromSeconds(30));
        }

        Assert.False(add.IsCompleted);
        _proxy.Heal();
        _proxy.CutAll();

        var stored = await add.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(new[] { true, true, false, true }, stored);
        Assert.True(Logged(RetryingOnFreshConnection));
        Assert.Equal("another writer's", (await cache.GetAsync<string>(keys[2])).Value);
        Assert.Equal($"mine for {keys[0]}", (await cache.GetAsync<string>(keys[0])).Value);
    }

    [Fact]
    public async Task IncrementAsync_PooledConnectionCutAfterRequestSent_NotRetriedAndThrowsConnectionException()
    {
        _proxy = new TcpFaultProxy(_server.Port);
        await using var cache = Cache(_proxy.Port);
        var key = Key(nameof(IncrementAsync_PooledConnectionCutAfterRequestSent_NotRetriedAndThrowsConnectionException));
        Assert.Equal(5UL, await cache.IncrementAsync(key, delta: 1, initialValue: 5));
        var accepted = _proxy.AcceptedConnections;

        var increment = await CutMidRequestAsync(() => cache.IncrementAsync(key).AsTask());

        await Assert.ThrowsAsync<CacheConnectionException>(() => increment);
        Assert.Equal(accepted, _proxy.AcceptedConnections); // no second attempt was dialled
        using (var raw = new MemcachedRawClient("127.0.0.1", _server.Port))
        {
            Assert.Equal("5", System.Text.Encoding.ASCII.GetString(raw.Get(key)!.Value.Data)); // not counted by a retry
        }

        Assert.True(Logged(NotRetriedNotIdempotent));
        Assert.False(Logged(RetryingOnFreshConnection));
        Assert.Equal(6UL, await cache.IncrementAsync(key)); // the node was not marked down
        Assert.False(Logged(NodeMarkedDown));
    }

    [Fact]
    public async Task GetAsync_FreshConnectionFailsToo_NodeMarkedDown()
    {
        _proxy = new TcpFaultProxy(_server.Port);
        await using var cache = Cache(_proxy.Port);
        var key = Key(nameof(GetAsync_FreshConnectionFailsToo_NodeMarkedDown));
        await cache.SetAsync(key, "value");

        _proxy.Drop = true;
        var get = cache.GetAsync<string>(key).AsTask();
        await Task.Delay(300);
        _proxy.RefuseNew = true; // the retry's connection is accepted and reset at once
        _proxy.CutAll();

        await Assert.ThrowsAsync<CacheConnectionException>(() => get);
        Assert.True(Logged(RetryingOnFreshConnection));
        Assert.True(Logged(NodeMarkedDown));
        _proxy.Heal();
        var down = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(key));
        Assert.Contains("marked down", down.Message, StringComparison.Ordinal); // fails fast during the back-off
    }

    [Fact]
    public async Task GetAsync_ServerKilledAndNotRestarted_NodeMarkedDownAfterTheFreshConnectFails()
    {
        await using var cache = Cache(_server.Port);
        var key = Key(nameof(GetAsync_ServerKilledAndNotRestarted_NodeMarkedDownAfterTheFreshConnectFails));
        await WarmPoolAsync(cache, key);

        _server.Kill();

        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(key));
        Assert.True(Logged(NodeMarkedDown));
        Assert.Equal(0, cache.OpenConnectionCount); // every dead pooled connection was dropped by the first failure
        var down = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(key));
        Assert.Contains("marked down", down.Message, StringComparison.Ordinal);
    }
}
