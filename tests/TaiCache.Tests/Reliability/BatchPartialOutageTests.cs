using System.Diagnostics;
using System.Net;
using StackExchange.Redis;
using TaiCache.Memcached;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// A memcached node of two hung (<c>SIGSTOP</c>) under a multi-tier cache: a batch read-through
/// (<c>GetOrSetManyAsync</c>) should cost one operation timeout, as a single-key read-through does (its write skips the
/// tier whose read just failed), not one for the read and another for storing the factory's values into the same hung node.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedHungNodeBatchTests : IAsyncLifetime
{
    private FreezableMemcachedPair _servers = null!;

    public async Task InitializeAsync() => _servers = await FreezableMemcachedPair.StartAsync();

    public async Task DisposeAsync() => await _servers.DisposeAsync();

    [Fact]
    public async Task GetOrSetManyAsync_OneMemcachedNodeHung_CostsOneOperationTimeout_NotTwo()
    {
        var timeout = TimeSpan.FromSeconds(2); // one timeout (2 s) and two (4 s) apart by more than a loaded machine adds
        var memcached = new MemcachedCache(new MemcachedCacheOptions
        {
            Servers = { new MemcachedServer("127.0.0.1", _servers.Healthy.Port), new MemcachedServer("127.0.0.1", _servers.Frozen.Port) },
            OperationTimeout = timeout,
            PoolTimeout = TimeSpan.FromSeconds(5),
            FailoverPolicy = MemcachedFailoverPolicy.FailFast,
        });
        var options = new MultiTierCacheOptions { Name = "audit-hung-batch" };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(memcached);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 2000).Select(i => $"audit:hungbatch:{Guid.NewGuid():N}:{i}").ToList();
        var onFrozen = keys.Where(k => memcached.GetServerForKey(k).Port == _servers.Frozen.Port).Take(5).ToList();
        var healthy = keys.Where(k => memcached.GetServerForKey(k).Port == _servers.Healthy.Port).Take(5).ToList();
        keys = [.. onFrozen, .. healthy];
        await memcached.SetManyAsync(healthy.Select(k => KeyValuePair.Create(k, "stored:" + k)));

        _servers.Freeze();
        var watch = Stopwatch.StartNew();
        var batch = await cache.GetOrSetManyAsync(keys, (missing, _) =>
            new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k))).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        watch.Stop();

        Assert.All(keys, k => Assert.Equal((onFrozen.Contains(k) ? "loaded:" : "stored:") + k, batch[k]));

        // One timeout (the read of the hung node's part) plus slack; storing the loaded values into the node that just
        // timed out waits a second full timeout.
        Assert.True(watch.Elapsed < timeout * 1.6, $"GetOrSetManyAsync took {watch.Elapsed.TotalMilliseconds:0} ms with a {timeout.TotalMilliseconds:0} ms operation timeout.");
    }
}

/// <summary>As <see cref="MemcachedHungNodeBatchTests"/>, for a hung primary of a Redis Cluster.</summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class RedisClusterHungPrimaryBatchTests(HungPrimaryRedisClusterFixture cluster) : IClassFixture<HungPrimaryRedisClusterFixture>
{
    [Fact]
    public async Task GetOrSetManyAsync_OneClusterPrimaryHung_CostsOneOperationTimeout_NotTwo()
    {
        Assert.True(cluster.Ports.Count > 0, "This test freezes a primary, so it needs the cluster its fixture starts; unset TAICACHE_REDIS_CLUSTER.");
        var timeout = TimeSpan.FromSeconds(2); // one timeout (2 s) and two (4 s) apart by more than a loaded machine adds
        var prefix = $"audit:hungbatch:{Guid.NewGuid():N}:";
        await using var redis = await RedisCache.ConnectAsync(cluster.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, OperationTimeout = timeout });
        var all = Enumerable.Range(0, 60).Select(i => "k" + i).ToArray();
        var configuration = redis.Multiplexer.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        EndPoint Owner(string key) => configuration.GetBySlot((RedisKey)(prefix + key))!.EndPoint!;
        var victim = Owner(all[0]);
        var hung = all.Where(k => Owner(k).Equals(victim)).Take(5).ToArray();
        var alive = all.Where(k => !Owner(k).Equals(victim)).Take(5).ToArray();
        await redis.SetManyAsync(alive.Select(k => KeyValuePair.Create(k, "stored:" + k)));

        var options = new MultiTierCacheOptions { Name = "audit-hung-cluster", OwnsTiers = false };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(redis);
        await using var cache = new MultiTierCache(options);

        cluster.Signal(((IPEndPoint)victim).Port, "STOP");
        try
        {
            var watch = Stopwatch.StartNew();
            var batch = await cache.GetOrSetManyAsync(hung.Concat(alive), (missing, _) =>
                new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k))).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            watch.Stop();

            Assert.All(hung.Concat(alive), k => Assert.Equal((hung.Contains(k) ? "loaded:" : "stored:") + k, batch[k]));
            Assert.True(watch.Elapsed < timeout * 1.6, $"GetOrSetManyAsync took {watch.Elapsed.TotalMilliseconds:0} ms with a {timeout.TotalMilliseconds:0} ms operation timeout.");
        }
        finally
        {
            cluster.Signal(((IPEndPoint)victim).Port, "CONT");
        }
    }
}
