using System.Collections.Concurrent;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// One memcached node of two hung (a real memcached frozen with <c>SIGSTOP</c>) under a multi-tier cache: its keys time
/// out and go to the factory, the other node's keys are still served by memcached, and the tier's circuit stays closed,
/// as for a node that is down. A timeout used to count against the breaker and fail a whole batch read.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MultiTierMemcachedHungNodeTests : IAsyncLifetime
{
    private FreezableMemcachedPair _servers = null!;

    public async Task InitializeAsync() => _servers = await FreezableMemcachedPair.StartAsync();

    public async Task DisposeAsync() => await _servers.DisposeAsync();

    [Fact]
    public async Task OneNodeHung_ItsKeysLoaded_OthersServedByMemcached_SingleAndBatch_CircuitStaysClosed()
    {
        var memcached = new MemcachedCache(new MemcachedCacheOptions
        {
            Servers = { new MemcachedServer("127.0.0.1", _servers.Healthy.Port), new MemcachedServer("127.0.0.1", _servers.Frozen.Port) },
            OperationTimeout = TimeSpan.FromSeconds(1), // the healthy node's answers must come within it on a loaded machine too
            PoolTimeout = TimeSpan.FromSeconds(5),
            FailureThreshold = 100, // the node is never marked down here: only its timeouts tell
            FailoverPolicy = MemcachedFailoverPolicy.FailFast,
        });
        var l1 = TierTestKit.Memory("L1");
        var options = new MultiTierCacheOptions { CircuitBreakerFailureThreshold = 3 };
        options.Tiers.Add(l1);
        options.Tiers.Add(memcached);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 2000).Select(i => $"{nameof(MultiTierMemcachedHungNodeTests)}:{Guid.NewGuid():N}:{i}").ToList();
        var onFrozen = keys.Where(k => memcached.GetServerForKey(k).Port == _servers.Frozen.Port).Take(5).ToList();
        var healthy = keys.Where(k => memcached.GetServerForKey(k).Port == _servers.Healthy.Port).Take(5).ToList();
        keys = [.. onFrozen, .. healthy];
        await memcached.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, "stored:" + k)));

        _servers.Freeze();
        var loaded = new ConcurrentBag<string>();
        foreach (var key in keys)
        {
            var value = await cache.GetOrSetAsync(key, _ =>
            {
                loaded.Add(key);
                return new ValueTask<string>("loaded:" + key);
            }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((onFrozen.Contains(key) ? "loaded:" : "stored:") + key, value);
        }

        Assert.Equal(onFrozen.Order(), loaded.Order());
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));

        foreach (var key in keys)
        {
            l1.Remove(key);
        }

        var batchLoaded = new ConcurrentBag<string>();
        var batch = await cache.GetOrSetManyAsync(keys, (missing, _) =>
        {
            foreach (var key in missing)
            {
                batchLoaded.Add(key);
            }

            return new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k));
        }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(onFrozen.Order(), batchLoaded.Order());
        Assert.All(keys, k => Assert.Equal((onFrozen.Contains(k) ? "loaded:" : "stored:") + k, batch[k]));
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
    }
}
