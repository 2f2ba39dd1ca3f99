using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TaiCache.Memcached;

namespace TaiCache.Tests.Memcached;

/// <summary>A <c>stats</c> request the server refuses with an error line, from a scripted loopback server (a real memcached always answers <c>stats</c>).</summary>
public sealed class MemcachedStatsRefusedTests
{
    private static MemcachedCache Cache(FakeMemcachedServer server, ILoggerFactory? logs = null)
    {
        var o = new MemcachedCacheOptions
        {
            OperationTimeout = TimeSpan.FromSeconds(5),
            PoolTimeout = TimeSpan.FromSeconds(5),
            MaxConnectionsPerNode = 2,
            LoggerFactory = logs,
        };
        o.Servers.Add(new MemcachedServer("127.0.0.1", server.Port));
        return new MemcachedCache(o);
    }

    [Theory]
    [InlineData("ERROR")]
    [InlineData("CLIENT_ERROR stats are off here")]
    [InlineData("SERVER_ERROR out of memory writing stats")]
    public async Task GetStatisticsAsync_ServerRefusesStats_IsAServerErrorNamingTheReply_NotAMalformedResponse(string reply)
    {
        // It was reported as "sent a malformed response" (a CacheConnectionException that closed the connection and
        // counted as a connection failure of the node), though the server answered in step and only refused.
        await using var server = new FakeMemcachedServer();
        using var provider = new FakeLoggerProvider();
        using var logs = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Trace));
        await using var cache = Cache(server, logs);
        server.Script.Enqueue((_ => Encoding.ASCII.GetBytes(reply + "\r\n"), false));

        var ex = await Assert.ThrowsAsync<CacheException>(async () => await cache.GetStatisticsAsync());
        Assert.IsNotType<CacheConnectionException>(ex);
        Assert.Contains($"127.0.0.1:{server.Port}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"refused 'stats': {reply}", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("malformed", ex.Message, StringComparison.OrdinalIgnoreCase);

        // The connection stayed in step and in the pool, the node is not down, and the refusal is logged (event 2003).
        Assert.Equal(1, cache.OpenConnectionCount);
        Assert.False(cache.Nodes[0].IsDown());
        Assert.False((await cache.GetAsync<string>("k")).HasValue);
        Assert.Equal(1, server.Accepted);
        Assert.Contains(provider.Collector.GetSnapshot(), r => r.Id.Id == 2003 && r.Message.Contains(reply, StringComparison.Ordinal));
    }
}
