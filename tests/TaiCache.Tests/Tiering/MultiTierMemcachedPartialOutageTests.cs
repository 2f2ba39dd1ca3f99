using System.Collections.Concurrent;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// One memcached node of three killed under a multi-tier cache (fail fast): its keys go to the factory, and the
/// others must still be served by the two healthy nodes; the tier's circuit must not open for a partial outage.
/// </summary>
public sealed class MultiTierMemcachedPartialOutageTests : IClassFixture<MemcachedClusterFixture>
{
    private readonly MemcachedClusterFixture _cluster;

    public MultiTierMemcachedPartialOutageTests(MemcachedClusterFixture cluster) => _cluster = cluster;

    /// <summary>A memcached tier over the three nodes that fails a down node's keys at once, with keys of its own.</summary>
    private MemcachedCache FailFastMemcached(string prefix) => new(_cluster.Options(o =>
    {
        o.FailoverPolicy = MemcachedFailoverPolicy.FailFast;
        o.KeyPrefix = $"{prefix}{Guid.NewGuid():N}-";
    }));

    [Fact]
    public async Task OneNodeDown_KeysOnTheOtherNodes_StillServedByMemcached_SingleAndBatch_CircuitStaysClosed()
    {
        var memcached = FailFastMemcached("partial-");
        var l1 = TierTestKit.Memory("L1");
        var options = new MultiTierCacheOptions { CircuitBreakerFailureThreshold = 5 };
        options.Tiers.Add(l1);
        options.Tiers.Add(memcached);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 120).Select(i => $"k{i}").ToList();
        await memcached.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, "stored:" + k)));
        var dead = _cluster.Servers[1].ToString();
        var onDead = keys.Where(k => memcached.GetServerForKey(k).ToString() == dead).ToList();
        var healthy = keys.Except(onDead).ToList();
        Assert.True(onDead.Count >= 10 && healthy.Count >= 10, $"{onDead.Count} keys on the node to kill, {healthy.Count} elsewhere");

        _cluster.Kill(1);
        try
        {
            var loaded = new ConcurrentBag<string>();
            ValueTask<string> Factory(string key)
            {
                loaded.Add(key);
                return new ValueTask<string>("loaded:" + key);
            }

            // The dead node's keys first, many in a row: each fails at once once the node is marked down.
            foreach (var key in onDead.Concat(healthy))
            {
                Assert.StartsWith(onDead.Contains(key) ? "loaded:" : "stored:", await cache.GetOrSetAsync(key, _ => Factory(key)), StringComparison.Ordinal);
            }

            Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
            Assert.Equal(onDead.Order(), loaded.Order());

            var batchLoaded = new ConcurrentBag<string>();
            foreach (var key in keys)
            {
                l1.Remove(key);
            }

            var batch = await cache.GetOrSetManyAsync(keys, (missing, _) =>
            {
                foreach (var key in missing)
                {
                    batchLoaded.Add(key);
                }

                return new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k));
            });

            // A batch reads the healthy nodes' keys from memcached and loads only the dead node's.
            Assert.Equal(onDead.Order(), batchLoaded.Order());
            Assert.All(keys, k => Assert.Equal((onDead.Contains(k) ? "loaded:" : "stored:") + k, batch[k]));
            Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
        }
        finally
        {
            await _cluster.RestartAsync(1);
        }
    }

    [Fact]
    public async Task OneNodeDown_ValuesABatchLoads_AreStoredOnTheHealthyNodes_SoTheNextBatchLoadsOnlyTheDeadNodesKeys()
    {
        var memcached = FailFastMemcached("partial-load-");
        var options = new MultiTierCacheOptions { CircuitBreakerFailureThreshold = 5 };
        options.Tiers.Add(memcached); // no L1: every batch reads memcached
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 120).Select(i => $"k{i}").ToList();
        var dead = _cluster.Servers[1].ToString();
        var onDead = keys.Where(k => memcached.GetServerForKey(k).ToString() == dead).ToList();
        Assert.True(onDead.Count >= 10 && keys.Count - onDead.Count >= 10, $"{onDead.Count} keys on the node to kill");

        _cluster.Kill(1);
        try
        {
            var loads = new List<string[]>();
            ValueTask<IReadOnlyDictionary<string, string>> Load(IReadOnlyList<string> missing)
            {
                loads.Add([.. missing]);
                return new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k));
            }

            var first = await cache.GetOrSetManyAsync(keys, (missing, _) => Load(missing));
            Assert.Equal(keys.Order(), loads[0].Order());
            Assert.All(keys, k => Assert.Equal("loaded:" + k, first[k]));

            // The healthy nodes got their keys' values (skipping the whole tier for a partial outage sent every key to
            // the factory again on each batch while the node was down).
            foreach (var key in keys.Except(onDead))
            {
                Assert.Equal("loaded:" + key, (await memcached.GetAsync<string>(key)).Value);
            }

            var second = await cache.GetOrSetManyAsync(keys, (missing, _) => Load(missing));
            Assert.Equal(onDead.Order(), loads[1].Order());
            Assert.All(keys, k => Assert.Equal("loaded:" + k, second[k]));
            Assert.Equal(CircuitState.Closed, cache.GetCircuitState(0));
        }
        finally
        {
            await _cluster.RestartAsync(1);
        }
    }

    [Fact]
    public async Task OneNodeDown_ReadThroughCopiesOfLowerTierHits_GoToTheHealthyNodes()
    {
        var memcached = FailFastMemcached("partial-copy-");
        var l3 = TierTestKit.Memory("L3");
        var options = new MultiTierCacheOptions { ReadStrategy = ReadStrategy.ReadThrough, CircuitBreakerFailureThreshold = 5 };
        options.Tiers.Add(memcached);
        options.Tiers.Add(l3);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 120).Select(i => $"k{i}").ToList();
        foreach (var key in keys)
        {
            l3.Set(key, "l3:" + key);
        }

        var dead = _cluster.Servers[1].ToString();
        var onDead = keys.Where(k => memcached.GetServerForKey(k).ToString() == dead).ToList();
        _cluster.Kill(1);
        try
        {
            var read = await cache.GetManyAsync<string>(keys);
            Assert.All(keys, k => Assert.Equal("l3:" + k, read[k]));
            foreach (var key in keys.Except(onDead))
            {
                Assert.Equal("l3:" + key, (await memcached.GetAsync<string>(key)).Value);
            }
        }
        finally
        {
            await _cluster.RestartAsync(1);
        }
    }
}
