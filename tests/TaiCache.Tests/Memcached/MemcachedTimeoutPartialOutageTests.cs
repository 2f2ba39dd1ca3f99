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
    private FreezableMemcachedPair _servers = null!;

    public async Task InitializeAsync() => _servers = await FreezableMemcachedPair.StartAsync();

    public async Task DisposeAsync() => await _servers.DisposeAsync();

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
        await using var cache = Cache(_servers.Healthy.Port, _servers.Frozen.Port);
        var frozenKey = KeysOn(cache, _servers.Frozen.Port, "single", 1)[0];
        var healthyKey = KeysOn(cache, _servers.Healthy.Port, "single", 1)[0];
        await cache.SetAsync(frozenKey, "v"); // a pooled connection to the node, so the call reaches the read

        _servers.Freeze();
        var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>(frozenKey).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(ex.IsPartialOutage, ex.Message);
        await cache.SetAsync(healthyKey, "w");
        Assert.Equal("w", (await cache.GetAsync<string>(healthyKey)).Value);
    }

    [Fact]
    public async Task GetManyAsync_OneNodeOfTwoStopped_TimeoutIsPartialOutage()
    {
        await using var cache = Cache(_servers.Healthy.Port, _servers.Frozen.Port);
        var keys = KeysOn(cache, _servers.Frozen.Port, "batch", 5).Concat(KeysOn(cache, _servers.Healthy.Port, "batch", 5)).ToList();
        await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, 1)));

        _servers.Freeze();
        var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetManyAsync<int>(keys).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(ex.IsPartialOutage, ex.Message);
    }

    [Fact]
    public async Task GetAsync_OnlyNodeStopped_TimeoutIsNotPartialOutage()
    {
        await using var cache = Cache(_servers.Frozen.Port);
        var key = KeysOn(cache, _servers.Frozen.Port, "only", 1)[0];
        await cache.SetAsync(key, "v");

        _servers.Freeze();
        var ex = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await cache.GetAsync<string>(key).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(ex.IsPartialOutage, ex.Message);
    }
}
