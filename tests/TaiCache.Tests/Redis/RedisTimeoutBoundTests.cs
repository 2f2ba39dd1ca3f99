using System.Diagnostics;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>
/// <c>OperationTimeout</c> bounds a call on a connection the cache owns, not "OperationTimeout plus up to the client's
/// 1 s heartbeat" (StackExchange.Redis only notices timed-out commands on its heartbeat).
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class RedisTimeoutBoundTests
{
    [Fact]
    public async Task GetAsync_ServerStalled_EachCallTimesOutNearOperationTimeout()
    {
        // Its own server: DEBUG SLEEP must be enabled, and it stalls every client of the server.
        await using var server = await RedisServerFixture.StartRedisAsync(FreePort.Next(), "--enable-debug-command", "yes");
        var connectionString = $"127.0.0.1:{server.Port}";
        var timeout = TimeSpan.FromMilliseconds(200);
        await using var cache = await RedisCache.ConnectAsync(connectionString, new RedisCacheOptions { OperationTimeout = timeout });
        var key = $"{nameof(RedisTimeoutBoundTests)}:stalled:{Guid.NewGuid():N}";
        await cache.SetAsync(key, 1);

        await using var admin = await ConnectionMultiplexer.ConnectAsync(connectionString);
        var sleeping = admin.GetDatabase().ExecuteAsync("DEBUG", "SLEEP", "3");
        await Task.Delay(100);

        // StackExchange.Redis notices a timed-out command only on its heartbeat: with the default 1 s heartbeat these calls
        // took 870-990 ms each. A stalled server may also be declared disconnected; either typed exception is right.
        // Three calls, their median judged: one call a loaded machine holds up (a pause of half a second) is not the bug.
        var took = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<CacheException>(async () => await cache.GetAsync<int>(key));
            took.Add(watch.Elapsed);
            Assert.True(error is CacheTimeoutException or CacheConnectionException, error.GetType().Name);
            Assert.Equal(key, error.Key);
        }

        await sleeping;
        var median = took.Order().ElementAt(1);
        Assert.True(median < TimeSpan.FromMilliseconds(700), $"calls with a {timeout.TotalMilliseconds} ms OperationTimeout took {string.Join(", ", took.Select(t => $"{t.TotalMilliseconds:F0} ms"))}");

        // And the cache is usable again once the server answers (a dropped connection reconnects in the background).
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Assert.Equal(1, (await cache.GetAsync<int>(key)).Value);
                break;
            }
            catch (CacheException) when (deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task Operations_StalledServerDeclaredDead_InFlightCallsFailWithCacheConnectionException_NotTaskCanceled()
    {
        // When a stalled server has not answered for a few timeouts, StackExchange.Redis declares the connection dead and
        // cancels the commands still waiting on it (a TaskCanceledException no caller asked for). Those calls leaked it
        // untranslated: a caller catching CacheException, as the docs say, saw an unexpected cancellation.
        await using var server = await RedisServerFixture.StartRedisAsync(FreePort.Next(), "--enable-debug-command", "yes");
        var connectionString = $"127.0.0.1:{server.Port}";
        await using var cache = await RedisCache.ConnectAsync(connectionString, new RedisCacheOptions { OperationTimeout = TimeSpan.FromMilliseconds(300) });
        var key = $"{nameof(RedisTimeoutBoundTests)}:dead:{Guid.NewGuid():N}";
        await cache.SetAsync(key, 1);

        await using var admin = await ConnectionMultiplexer.ConnectAsync(connectionString);
        var sleeping = admin.GetDatabase().ExecuteAsync("DEBUG", "SLEEP", "4");
        await Task.Delay(100);

        var unexpected = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var connectionFailures = 0;
        var until = Stopwatch.StartNew();
        async Task CallerAsync(Func<ValueTask> call)
        {
            while (until.Elapsed < TimeSpan.FromSeconds(3.5))
            {
                try
                {
                    await call();
                }
                catch (CacheConnectionException)
                {
                    Interlocked.Increment(ref connectionFailures);
                }
                catch (CacheTimeoutException)
                {
                }
                catch (Exception ex)
                {
                    unexpected.Enqueue(ex);
                }

                await Task.Delay(5);
            }
        }

        await Task.WhenAll(
            CallerAsync(async () => await cache.GetAsync<int>(key)),
            CallerAsync(async () => await cache.SetAsync(key, 2)),
            CallerAsync(async () => await cache.ExpireAsync(key, TimeSpan.FromMinutes(1))),
            CallerAsync(async () => await cache.GetManyAsync<int>([key, key + ":other"]))).WaitAsync(TimeSpan.FromSeconds(30));
        await sleeping;

        Assert.True(connectionFailures > 0, "the stalled connection was never declared dead, so the test proved nothing");
        Assert.True(unexpected.IsEmpty, string.Join(Environment.NewLine, unexpected.Select(e => e.GetType().Name + ": " + e.Message)));
    }
}
