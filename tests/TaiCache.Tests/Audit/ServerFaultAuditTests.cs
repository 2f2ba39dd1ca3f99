using System.Diagnostics;
using System.Net;
using StackExchange.Redis;
using TaiCache.Memcached;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Audit;

/// <summary>
/// A memcached node of two hung (<c>SIGSTOP</c>) under a multi-tier cache: a batch read-through
/// (<c>GetOrSetManyAsync</c>) should cost one operation timeout, as a single-key read-through does (its write skips the
/// tier whose read just failed), not one for the read and another for storing the factory's values into the same hung node.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class MemcachedHungNodeBatchAuditTests : IAsyncLifetime
{
    private FreezableMemcachedPair _servers = null!;

    public async Task InitializeAsync() => _servers = await FreezableMemcachedPair.StartAsync();

    public async Task DisposeAsync() => await _servers.DisposeAsync();

    [Fact]
    public async Task GetOrSetManyAsync_OneMemcachedNodeHung_CostsOneOperationTimeout_NotTwo()
    {
        var timeout = TimeSpan.FromSeconds(1);
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
        Assert.True(watch.Elapsed < timeout * 1.7, $"GetOrSetManyAsync took {watch.Elapsed.TotalMilliseconds:0} ms with a {timeout.TotalMilliseconds:0} ms operation timeout.");
    }
}

/// <summary>As <see cref="MemcachedHungNodeBatchAuditTests"/>, for a hung primary of a Redis Cluster.</summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class RedisClusterHungPrimaryBatchAuditTests(HungPrimaryRedisClusterFixture cluster) : IClassFixture<HungPrimaryRedisClusterFixture>
{
    [Fact]
    public async Task GetOrSetManyAsync_OneClusterPrimaryHung_CostsOneOperationTimeout_NotTwo()
    {
        Assert.True(cluster.Ports.Count > 0, "This test freezes a primary, so it needs the cluster its fixture starts; unset TAICACHE_REDIS_CLUSTER.");
        var timeout = TimeSpan.FromSeconds(1);
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
            Assert.True(watch.Elapsed < timeout * 1.7, $"GetOrSetManyAsync took {watch.Elapsed.TotalMilliseconds:0} ms with a {timeout.TotalMilliseconds:0} ms operation timeout.");
        }
        finally
        {
            cluster.Signal(((IPEndPoint)victim).Port, "CONT");
        }
    }
}

/// <summary>
/// Write-behind over two memcached nodes, one of them killed: the flusher's batch writes the healthy node's keys (they
/// are in memcached) but the batch call fails as a partial outage. Those keys must not end as dead letters ("not
/// written") nor be missing from the flush's written count.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class WriteBehindMemcachedNodeDownAuditTests : IAsyncLifetime
{
    private ServerProcess _healthy = null!;
    private ServerProcess _dead = null!;

    public async Task InitializeAsync()
    {
        _healthy = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
        _dead = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
    }

    public async Task DisposeAsync()
    {
        await _healthy.DisposeAsync();
        await _dead.DisposeAsync();
    }

    [Fact]
    public async Task WriteBehind_OneMemcachedNodeOfTwoDead_KeysTheHealthyNodeStored_AreNotDeadLettered()
    {
        var memcached = new MemcachedCache(new MemcachedCacheOptions
        {
            Servers = { new MemcachedServer("127.0.0.1", _healthy.Port), new MemcachedServer("127.0.0.1", _dead.Port) },
            OperationTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            FailoverPolicy = MemcachedFailoverPolicy.FailFast,
        });
        var options = new MultiTierCacheOptions
        {
            Name = "audit-wb-partial",
            WriteStrategy = WriteStrategy.WriteBehind,
            WriteBehind = new WriteBehindOptions { MaxAttempts = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(10), RetryMaxDelay = TimeSpan.FromMilliseconds(40) },
        };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(memcached);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 2000).Select(i => $"audit:wbpartial:{Guid.NewGuid():N}:{i}").ToList();
        var onHealthy = keys.Where(k => memcached.GetServerForKey(k).Port == _healthy.Port).Take(5).ToList();
        var onDead = keys.Where(k => memcached.GetServerForKey(k).Port == _dead.Port).Take(5).ToList();

        _dead.Kill();
        await cache.SetManyAsync(onHealthy.Concat(onDead).Select(k => KeyValuePair.Create(k, "v:" + k)));
        var flushed = await cache.FlushAsync(TimeSpan.FromSeconds(20));
        var dead = cache.DrainDeadLetters();

        // The healthy node holds every one of its keys: they were written.
        foreach (var key in onHealthy)
        {
            Assert.Equal("v:" + key, (await memcached.GetAsync<string>(key)).Value);
        }

        var deadHealthy = dead.Where(d => onHealthy.Contains(d.Key)).Select(d => d.Key).ToList();
        Assert.True(deadHealthy.Count == 0, $"{deadHealthy.Count} keys memcached holds were dead-lettered as not written (flush: written {flushed.Written}, dead {flushed.DeadLettered}): {string.Join(", ", dead.Where(d => onHealthy.Contains(d.Key)).Select(d => d.Error).Distinct())}");
        Assert.True(flushed.Written >= onHealthy.Count, $"written {flushed.Written}");
    }
}
