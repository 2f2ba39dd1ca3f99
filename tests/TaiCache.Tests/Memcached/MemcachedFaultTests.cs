using System.Diagnostics;
using System.Text;
using CsCheck;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TaiCache.Memcached;

namespace TaiCache.Tests.Memcached;

/// <summary>Malformed, truncated, stray and missing responses from a scripted loopback server: the client never hangs and the next call is right.</summary>
public sealed class MemcachedFaultTests
{
    private static MemcachedCache Cache(FakeMemcachedServer server, Action<MemcachedCacheOptions>? configure = null)
    {
        var o = new MemcachedCacheOptions
        {
            OperationTimeout = TimeSpan.FromMilliseconds(300),
            PoolTimeout = TimeSpan.FromMilliseconds(500),
            DeadNodeRetryInterval = TimeSpan.FromMilliseconds(50),
            MaxDeadNodeRetryInterval = TimeSpan.FromMilliseconds(200),
            MaxConnectionsPerNode = 4,
        };
        o.Servers.Add(new MemcachedServer("127.0.0.1", server.Port));
        configure?.Invoke(o);
        return new MemcachedCache(o);
    }

    /// <summary>
    /// Runs a call that must succeed against a server answering properly. A timeout (the box may be overloaded) is a
    /// clean failure and is retried a few times; with <paramref name="whileNodeRecovers"/>, so is a connection error
    /// (the node marked down by the faults before, until its probe, every 50-200 ms here, brings it back). Any other
    /// exception, or a wrong answer, fails the test.
    /// </summary>
    private static async Task<T> Eventually<T>(Func<Task<T>> call, bool whileNodeRecovers = false)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (CacheTimeoutException) when (attempt < 4)
            {
            }
            catch (CacheConnectionException) when (whileNodeRecovers && attempt < 8)
            {
                await Task.Delay(250);
            }
        }
    }

    private static readonly Gen<(Func<int, byte[]> Answer, bool Close, string Name)> BadAnswer =
        Gen.Select(
            Gen.OneOf(
                Gen.Byte.Array[1, 40].Select(b => ((Func<int, byte[]>)(_ => b), "random bytes")),
                Gen.Int[0, 30].Select(cut => ((Func<int, byte[]>)(o => Encoding.ASCII.GetBytes($"VA 30 f1414791937 O{o}\r\n{new string('x', 30)}\r\n")[..Math.Min(cut, 20)]), "truncated VA")),
                Gen.Int[0, 8].Select(extra => ((Func<int, byte[]>)(o => Encoding.ASCII.GetBytes($"VA 4 O{o}\r\nab")), "short value")),
                Gen.Const(((Func<int, byte[]>)(o => Encoding.ASCII.GetBytes($"EN O{o}\r\nHD O{o + 1}\r\n")), "stray extra response")),
                Gen.Const(((Func<int, byte[]>)(o => Encoding.ASCII.GetBytes($"HD O{o + 7}\r\n")), "wrong opaque")),
                Gen.Const(((Func<int, byte[]>)(_ => "SERVER_ERROR boom\r\n"u8.ToArray()), "error line")),
                Gen.Const(((Func<int, byte[]>)(o => Encoding.ASCII.GetBytes($"VA 999999999 O{o}\r\n")), "huge size"))),
            Gen.Bool,
            (a, close) => (a.Item1, close, a.Item2));

    [Fact]
    public async Task GetAsync_BadOrTruncatedResponses_NeverHangAndNextCallIsCorrect()
    {
        await using var server = new FakeMemcachedServer();
        await using var cache = Cache(server, o => o.FailureThreshold = 1000);
        var samples = new List<(Func<int, byte[]> Answer, bool Close, string Name)>();
        BadAnswer.Sample(s => { lock (samples) { samples.Add(s); } }, iter: 60, threads: 1);

        foreach (var (answer, close, name) in samples)
        {
            server.Script.Enqueue((answer, close));
            var watch = Stopwatch.StartNew();
            try
            {
                await cache.GetAsync<string>("fault:key");
            }
            catch (CacheException)
            {
                // a clear failure is the expected outcome for most answers
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"'{name}' took {watch.Elapsed}");
            Assert.True(server.Script.IsEmpty, $"'{name}' was not consumed");

            // The next call meets a server that answers properly: it must see exactly that answer.
            var next = await Eventually(async () => await cache.GetAsync<string>("fault:key"));
            Assert.False(next.HasValue, $"after '{name}'");
            Assert.False(await Eventually(async () => await cache.ExistsAsync("fault:key")), $"after '{name}'");
        }

        Assert.InRange(cache.OpenConnectionCount, 0, 4);
    }

    [Fact]
    public async Task GetManyAsync_TruncatedBatch_FailsCleanlyAndNextBatchWorks()
    {
        await using var server = new FakeMemcachedServer();
        // Two faults in a row, and timeouts on a loaded box, could mark the node down: not what this test is about. Nor
        // is the stall timeout: a scripted answer the loaded box delays past 300 ms would time out, not be truncated.
        await using var cache = Cache(server, o =>
        {
            o.FailureThreshold = 1000;
            o.OperationTimeout = TimeSpan.FromSeconds(5);
        });
        server.Script.Enqueue((o => Encoding.ASCII.GetBytes($"VA 10 f1 O{o}\r\nabc"), true));
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetManyAsync<string>(["a", "b", "c"]));
        server.Script.Enqueue((o => Encoding.ASCII.GetBytes($"NF O77\r\n"), false));
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.DeleteManyAsync(["a", "b"]));
        Assert.Empty(await Eventually(async () => await cache.GetManyAsync<string>(["a", "b", "c"]), whileNodeRecovers: true));
        Assert.Equal(0, await Eventually(async () => await cache.DeleteManyAsync(["a", "b"]), whileNodeRecovers: true));
    }

    [Fact]
    public async Task GetAsync_ServerNeverAnswers_TimesOutAndPoolStaysBounded()
    {
        await using var server = new FakeMemcachedServer { Hang = true };
        await using var cache = Cache(server, o => { o.MaxConnectionsPerNode = 2; o.FailureThreshold = 1000; });
        var watch = Stopwatch.StartNew();
        var maxOpen = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                maxOpen = Math.Max(maxOpen, cache.OpenConnectionCount);
                await Task.Delay(5);
            }
        });
        var calls = Enumerable.Range(0, 10).Select(async i =>
        {
            var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>($"hang:{i}"));
            Assert.Equal(ex.Key, $"hang:{i}");
        });
        await Task.WhenAll(calls);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        await sampling.CancelAsync();
        await sampler;
        Assert.InRange(maxOpen, 1, 2);
        Assert.InRange(cache.OpenConnectionCount, 0, 2);

        server.Hang = false;
        Assert.False((await Eventually(async () => await cache.GetAsync<string>("hang:0"))).HasValue);
    }

    [Fact]
    public async Task GetAsync_RepeatedTimeouts_MarkNodeDownThenRecover()
    {
        await using var server = new FakeMemcachedServer { Hang = true };
        await using var cache = Cache(server, o => { o.FailureThreshold = 2; o.OperationTimeout = TimeSpan.FromSeconds(1); });
        await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>("down:1"));
        await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>("down:1"));
        var fast = Stopwatch.StartNew();
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>("down:1")); // marked down: fails without waiting
        Assert.True(fast.Elapsed < TimeSpan.FromMilliseconds(800), $"took {fast.Elapsed}"); // no wait for the 1 s timeout

        server.Hang = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                Assert.False((await cache.GetAsync<string>("down:1")).HasValue);
                break;
            }
            catch (CacheException ex) when (ex is CacheConnectionException or CacheTimeoutException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    [Fact]
    public async Task GetAsync_CancelledMidFlight_ThrowsCancelledAndNextCallWorks()
    {
        await using var server = new FakeMemcachedServer { Hang = true };
        await using var cache = Cache(server, o => o.OperationTimeout = TimeSpan.FromSeconds(30));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.GetAsync<string>("cancel:1", cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        server.Hang = false;
        Assert.False((await Eventually(async () => await cache.GetAsync<string>("cancel:1"))).HasValue);
    }

    [Fact]
    public async Task AnyOperation_CancelledWhileServerHangs_ExceptionCarriesTheCallersToken()
    {
        await using var server = new FakeMemcachedServer { Hang = true };
        await using var cache = Cache(server, o => { o.OperationTimeout = TimeSpan.FromSeconds(30); o.FailureThreshold = 1000; });
        var calls = new (string Name, Func<CancellationToken, Task> Call)[]
        {
            ("get", t => cache.GetAsync<string>("token:get", t).AsTask()),
            ("getmany", t => cache.GetManyAsync<string>(["token:a", "token:b"], t).AsTask()),
            ("set", t => cache.SetAsync("token:set", "v", cancellationToken: t).AsTask()),
            ("increment", t => cache.IncrementAsync("token:incr", cancellationToken: t).AsTask()),
        };
        foreach (var (name, call) in calls)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call(cts.Token).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.True(ex.CancellationToken == cts.Token, $"{name}: the exception carries another token than the caller's");
        }
    }

    [Fact]
    public async Task AnyOperation_UnreachableServer_FailsFastWithConnectionException()
    {
        var port = Fixtures.FreePort.Next();
        var o = new MemcachedCacheOptions { ConnectTimeout = TimeSpan.FromSeconds(1) };
        o.Servers.Add(new MemcachedServer("127.0.0.1", port));
        await using var cache = new MemcachedCache(o);
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetAsync("user@example.com", "secret-value"));
        await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>("user@example.com"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.DoesNotContain("user@example.com", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-value", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failures_LogAndThrowWithoutKeysOrValues()
    {
        const string email = "alice@example.com";
        const string secret = "s3cret-value";
        using var provider = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Trace));
        await using var server = new FakeMemcachedServer();
        await using var cache = Cache(server, o => { o.LoggerFactory = factory; o.FailureThreshold = 1; });
        var messages = new List<string>();

        server.Script.Enqueue((_ => Encoding.ASCII.GetBytes("garbage " + email + "\r\n"), false));
        messages.Add((await Assert.ThrowsAnyAsync<CacheException>(async () => await cache.GetAsync<string>(email))).ToString());
        server.Hang = true;
        messages.Add((await Assert.ThrowsAnyAsync<CacheException>(async () => await cache.SetAsync(email, secret))).ToString());
        messages.Add((await Assert.ThrowsAnyAsync<CacheException>(async () => await cache.GetAsync<string>(email))).ToString());

        var logs = provider.Collector.GetSnapshot();
        Assert.Contains(logs, l => l.Id.Id is 2000 or 2002);
        Assert.All(logs.Select(l => l.Message).Concat(messages), text =>
        {
            Assert.DoesNotContain(email, text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task CallWaitingForThePool_WhenTheNodeIsMarkedDown_FailsWithoutDiallingIt()
    {
        // A down node is never dialled by a caller. A call that was waiting for a pooled connection when the node was
        // marked down got the slot of the call that failed, found no idle connection and dialled the down node (here it
        // then hung for its whole OperationTimeout; a server cut off made it wait out ConnectTimeout instead).
        await using var server = new FakeMemcachedServer { Hang = true };
        await using var cache = Cache(server, o =>
        {
            o.MaxConnectionsPerNode = 1;
            o.FailureThreshold = 1;
            o.OperationTimeout = TimeSpan.FromMilliseconds(500);
            o.PoolTimeout = TimeSpan.FromSeconds(10);
            o.DeadNodeRetryInterval = TimeSpan.FromSeconds(60);
            o.MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(60);
        });
        var first = cache.GetAsync<string>("pool-wait:1").AsTask();
        await Tiering.TierTestKit.Eventually(() => Volatile.Read(ref server.Accepted) == 1);
        var waiting = cache.GetAsync<string>("pool-wait:2").AsTask();

        await Assert.ThrowsAsync<CacheTimeoutException>(() => first.WaitAsync(TimeSpan.FromSeconds(10))); // marks the node down
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("marked down", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref server.Accepted));
    }

    [Fact]
    public async Task ServerErrorLine_IsLoggedAsEvent2003_NamingTheNodeAndTheError()
    {
        // docs/memcached.md lists event 2003 (error line), but nothing logged it: a server refusing writes (out of memory)
        // showed only in the callers' exceptions.
        using var provider = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Trace));
        await using var server = new FakeMemcachedServer();
        await using var cache = Cache(server, o =>
        {
            o.LoggerFactory = factory;
            o.OperationTimeout = TimeSpan.FromSeconds(5); // the scripted error line, not a stall, must answer each call
        });

        server.Script.Enqueue((_ => "SERVER_ERROR out of memory storing object\r\n"u8.ToArray(), false));
        await Assert.ThrowsAsync<CacheException>(async () => await cache.SetAsync("error-line:1", "v"));
        server.Script.Enqueue((_ => "SERVER_ERROR out of memory storing object\r\n"u8.ToArray(), false));
        await Assert.ThrowsAsync<CacheException>(async () => await cache.SetManyAsync([KeyValuePair.Create("error-line:2", "v")]));

        var logged = provider.Collector.GetSnapshot().Where(l => l.Id.Id == 2003).ToList();
        Assert.Equal(2, logged.Count);
        Assert.All(logged, l =>
        {
            Assert.Contains($"127.0.0.1:{server.Port}", l.Message, StringComparison.Ordinal);
            Assert.Contains("out of memory storing object", l.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("error-line", l.Message, StringComparison.Ordinal);
        });
    }
}
