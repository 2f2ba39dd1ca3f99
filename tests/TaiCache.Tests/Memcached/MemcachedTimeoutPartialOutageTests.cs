using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// <see cref="CacheTimeoutException.IsPartialOutage"/>: a node of several that stops answering (a real memcached frozen
/// with <c>SIGSTOP</c>) times out while the others serve, a partial outage as a failed connection is. The exception
/// had no such flag, so a timeout looked like a whole outage.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedTimeoutPartialOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(500);
    private ServerProcess _healthy = null!;
    private ServerProcess _frozen = null!;

    public async Task InitializeAsync()
    {
        _healthy = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
        _frozen = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_frozen.IsRunning)
            {
                _frozen.Signal("CONT");
            }
        }
        finally
        {
            await _frozen.DisposeAsync();
            await _healthy.DisposeAsync();
        }
    }

    private static MemcachedCache Cache(params int[] ports)
    {
        var o = new MemcachedCacheOptions
        {
            OperationTimeout = Timeout,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PoolTimeout = TimeSpan.FromSeconds(5),
            FailureThreshold = 100, // the node stays up: the flag must come from the timeout itself
            DeadNodeRetryInterval = TimeSpan.FromSeconds(30),
            MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30),
        };
        foreach (var port in ports)
        {
            o.Servers.Add(new MemcachedServer("127.0.0.1", port));
        }

        return new MemcachedCache(o);
    }

    private static List<string> KeysOn(MemcachedCache cache, int port, string test, int count) =>
        Enumerable.Range(0, 2000).Select(i => $"{nameof(MemcachedTimeoutPartialOutageTests)}:{test}:{Guid.NewGuid():N}:{i}").Where(k => cache.GetServerForKey(k).Port == port).Take(count).ToList();

    [Fact]
    public async Task GetAsync_OneNodeOfTwoStopped_TimeoutIsPartialOutageAndOtherServes()
    {
        await using var cache = Cache(_healthy.Port, _frozen.Port);
        var frozenKey = KeysOn(cache, _frozen.Port, "single", 1)[0];
        var healthyKey = KeysOn(cache, _healthy.Port, "single", 1)[0];
        await cache.SetAsync(frozenKey, "v"); // a pooled connection to the node, so the call reaches the read

        _frozen.Signal("STOP");
        var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>(frozenKey).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(ex.IsPartialOutage, ex.Message);
        await cache.SetAsync(healthyKey, "w");
        Assert.Equal("w", (await cache.GetAsync<string>(healthyKey)).Value);
    }

    [Fact]
    public async Task GetManyAsync_OneNodeOfTwoStopped_TimeoutIsPartialOutage()
    {
        await using var cache = Cache(_healthy.Port, _frozen.Port);
        var keys = KeysOn(cache, _frozen.Port, "batch", 5).Concat(KeysOn(cache, _healthy.Port, "batch", 5)).ToList();
        await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1)));

        _frozen.Signal("STOP");
        var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetManyAsync<int>(keys).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(ex.IsPartialOutage, ex.Message);
    }

    [Fact]
    public async Task GetAsync_OnlyNodeStopped_TimeoutIsNotPartialOutage()
    {
        await using var cache = Cache(_frozen.Port);
        var key = KeysOn(cache, _frozen.Port, "only", 1)[0];
        await cache.SetAsync(key, "v");

        _frozen.Signal("STOP");
        var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>(key).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(ex.IsPartialOutage, ex.Message);
    }
}
