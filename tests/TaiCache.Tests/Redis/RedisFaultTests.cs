using System.Diagnostics;
using Microsoft.Extensions.Logging;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>A Redis server that is down, or dies, fails operations quickly and clearly, and the cache recovers when it is back.</summary>
public sealed class RedisFaultTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    // Generous for a loaded 2-core box; what matters is that the failure is bounded, not instant.
    private static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task OptionsConstructor_ServerDown_DoesNotThrow_AndOperationsFailWithConnectionExceptionInBoundedTime()
    {
        var closedPort = FreePort.Next();
        // A connect timeout well above what construction may take: the constructor must not wait for the connection.
        var options = new RedisCacheOptions { ConnectionString = $"127.0.0.1:{closedPort}", OperationTimeout = TimeSpan.FromSeconds(5) };

        var built = Stopwatch.StartNew();
        await using var cache = new RedisCache(options);
        Assert.True(built.Elapsed < TimeSpan.FromSeconds(2), $"construction took {built.Elapsed}");

        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>("k"));
        Assert.True(watch.Elapsed < Ceiling, $"failure took {watch.Elapsed}");
        Assert.Equal("k", ex.Key);

        watch.Restart();
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetAsync("k", 1));
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetManyAsync<int>(["a", "b"]));
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await RedisTestHelpers.ToListAsync(cache.KeysAsync()));
        Assert.True(watch.Elapsed < Ceiling, $"later failures took {watch.Elapsed}");
    }

    [Fact]
    public async Task OptionsConstructor_DisposedWhileStillConnecting_DisposesCleanly()
    {
        var cache = new RedisCache(new RedisCacheOptions { ConnectionString = $"127.0.0.1:{FreePort.Next()}", OperationTimeout = Timeout });
        var watch = Stopwatch.StartNew();
        await cache.DisposeAsync();
        await cache.DisposeAsync();
        Assert.True(watch.Elapsed < Ceiling, $"dispose took {watch.Elapsed}");
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetAsync<int>("k"));
    }

    [Fact]
    public async Task OptionsConstructor_ServerSilent_DisposeDoesNotWaitForTheConnectionAttempt()
    {
        // A listener that takes connections and never answers holds the first attempt for the whole 60 s connect
        // timeout (per retry): shutting down must not wait for it.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var cache = new RedisCache(new RedisCacheOptions { ConnectionString = $"127.0.0.1:{port}", OperationTimeout = TimeSpan.FromSeconds(60) });
        Assert.Throws<InvalidOperationException>(() => cache.Multiplexer);

        await cache.DisposeAsync().AsTask().WaitAsync(Ceiling);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await cache.GetAsync<int>("k"));
    }

    [Fact]
    public async Task ConnectAsync_ServerDown_ReturnsACache_ThatFailsWithConnectionException()
    {
        var closedPort = FreePort.Next();
        var watch = Stopwatch.StartNew();
        await using var cache = await RedisCache.ConnectAsync($"127.0.0.1:{closedPort}", new RedisCacheOptions { OperationTimeout = Timeout });
        Assert.False(cache.IsConnected);

        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.ExistsAsync("k"));
        Assert.True(watch.Elapsed < Ceiling, $"connect and failure took {watch.Elapsed}");
    }

    [Fact]
    public async Task ServerDown_EveryCallFails_ButTheFailureIsLoggedOnceASecond_NotPerCall()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var collector = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(collector)));
        await using var cache = await RedisCache.ConnectAsync($"127.0.0.1:{FreePort.Next()}", new RedisCacheOptions { OperationTimeout = Timeout, LoggerFactory = factory, TimeProvider = time });

        for (var i = 0; i < 50; i++)
        {
            await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<int>("k"));
        }

        Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 1010);
        time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<int>("k"));
        var reports = collector.GetSnapshot().Where(r => r.Id.Id == 1010).ToList();
        Assert.Equal(2, reports.Count);
        Assert.Equal("49", reports[1].GetStructuredStateValue("Suppressed"));
    }

    [Fact]
    public async Task ServerKilled_OperationsFailWithConnectionException_ThenRecoverAfterRestart()
    {
        await using var server = new RedisServerFixture();
        await server.InitializeAsync();
        if (!server.OwnsServer)
        {
            return; // an external TAICACHE_REDIS cannot be killed; the other fault tests still run
        }

        await using var cache = await RedisCache.ConnectAsync(server.ConnectionString, new RedisCacheOptions { OperationTimeout = Timeout });
        await cache.SetAsync("before", 1);

        server.Kill();
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<CacheException>(async () => await cache.GetAsync<int>("before"));
        Assert.True(ex is CacheConnectionException or CacheTimeoutException, ex.GetType().Name);
        Assert.True(watch.Elapsed < Ceiling, $"failure took {watch.Elapsed}");

        await server.RestartAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                await cache.SetAsync("after", 2);
                break;
            }
            catch (CacheException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(2, (await cache.GetAsync<int>("after")).Value);
    }
}
