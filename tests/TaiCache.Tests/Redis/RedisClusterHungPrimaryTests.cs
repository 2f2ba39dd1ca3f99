using System.Collections.Concurrent;
using System.Net;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Redis;

/// <summary>
/// One primary of a three-primary Cluster hung (a real redis-server frozen with <c>SIGSTOP</c>; this class owns its
/// cluster): its keys time out as a partial outage while StackExchange.Redis still holds the connection open, the
/// other primaries keep serving, a multi-tier cache's circuit stays closed and a batch read loads only the hung
/// primary's keys. Such timeouts used to count against the breaker, so three of them sent every key to the factory.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class RedisClusterHungPrimaryTests(HungPrimaryRedisClusterFixture cluster) : IClassFixture<HungPrimaryRedisClusterFixture>
{
    [Fact]
    public async Task PrimaryHung_ItsKeysTimeOutAsPartialOutage_OtherShardsServe_SingleAndBatch_CircuitStaysClosed()
    {
        Assert.True(cluster.Ports.Count > 0, "This test freezes a primary, so it needs the cluster its fixture starts; unset TAICACHE_REDIS_CLUSTER.");
        var prefix = $"hung:{Guid.NewGuid():N}:";
        await using var redis = await RedisCache.ConnectAsync(cluster.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, OperationTimeout = TimeSpan.FromMilliseconds(400) });
        var keys = Enumerable.Range(0, 60).Select(i => "k" + i).ToArray();
        await redis.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, "stored:" + k)));
        var configuration = redis.Multiplexer.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        EndPoint Owner(string key) => configuration.GetBySlot((RedisKey)(prefix + key))!.EndPoint!;
        var victim = Owner(keys[0]);
        var hung = keys.Where(k => Owner(k).Equals(victim)).Take(5).ToArray();
        var alive = keys.Where(k => !Owner(k).Equals(victim)).Take(5).ToArray();

        cluster.Signal(((IPEndPoint)victim).Port, "STOP");
        try
        {
            var timeout = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await redis.GetAsync<string>(hung[0]));
            Assert.True(timeout.IsPartialOutage, timeout.Message);
            Assert.Equal("stored:" + alive[0], (await redis.GetAsync<string>(alive[0])).Value);

            var l1 = TierTestKit.Memory("L1");
            var options = new MultiTierCacheOptions { Name = "hung", CircuitBreakerFailureThreshold = 3 };
            options.Tiers.Add(l1);
            options.Tiers.Add(redis);
            options.OwnsTiers = false;
            await using var cache = new MultiTierCache(options);
            var loaded = new ConcurrentBag<string>();
            foreach (var key in hung.Concat(alive))
            {
                var value = await cache.GetOrSetAsync(key, _ =>
                {
                    loaded.Add(key);
                    return new ValueTask<string>("loaded:" + key);
                }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Equal((hung.Contains(key) ? "loaded:" : "stored:") + key, value);
            }

            Assert.Equal(hung.Order(), loaded.Order());
            Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1)); // five timeouts in a row, none counted

            foreach (var key in hung.Concat(alive))
            {
                l1.Remove(key);
            }

            var batchLoaded = new ConcurrentBag<string>();
            var batch = await cache.GetOrSetManyAsync(hung.Concat(alive), (missing, _) =>
            {
                foreach (var key in missing)
                {
                    batchLoaded.Add(key);
                }

                return new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k));
            }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(hung.Order(), batchLoaded.Order()); // the other primaries' keys came from Redis
            Assert.All(hung.Concat(alive), k => Assert.Equal((hung.Contains(k) ? "loaded:" : "stored:") + k, batch[k]));
            Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));

            // A plain batch spanning the hung primary fails as a whole, as a partial outage.
            var many = await Assert.ThrowsAsync<CacheTimeoutException>(async () => await redis.GetManyAsync<string>(hung.Concat(alive)));
            Assert.True(many.IsPartialOutage, many.Message);
        }
        finally
        {
            cluster.Signal(((IPEndPoint)victim).Port, "CONT");
        }
    }

    [Fact]
    public async Task EveryPrimaryHung_TimeoutsStopBeingPartial_OnceEachPrimaryTimedOut_SoTheCircuitOpens()
    {
        Assert.True(cluster.Ports.Count > 0, "This test freezes every primary, so it needs the cluster its fixture starts; unset TAICACHE_REDIS_CLUSTER.");
        var prefix = $"allhung:{Guid.NewGuid():N}:";
        await using var redis = await RedisCache.ConnectAsync(cluster.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, OperationTimeout = TimeSpan.FromMilliseconds(300) });
        var configuration = redis.Multiplexer.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        var byPrimary = Enumerable.Range(0, 200).Select(i => "k" + i)
            .GroupBy(k => configuration.GetBySlot((RedisKey)(prefix + k))!.EndPoint!)
            .Select(g => g.First())
            .ToArray();
        Assert.Equal(3, byPrimary.Length);

        foreach (var port in cluster.Ports)
        {
            cluster.Signal(port, "STOP");
        }

        try
        {
            var partial = new List<bool>();
            foreach (var key in byPrimary.Concat(byPrimary))
            {
                var timeout = await Assert.ThrowsAnyAsync<CacheException>(async () => await redis.GetAsync<string>(key));
                partial.Add(PartialOutage.Is(timeout));
            }

            // The first two primaries' timeouts could still be one hung primary each; from the third on, none answers.
            Assert.Equal([true, true, false, false, false, false], partial);

            var options = new MultiTierCacheOptions { Name = "allhung", OwnsTiers = false, CircuitBreakerFailureThreshold = 3 };
            options.Tiers.Add(redis);
            await using var cache = new MultiTierCache(options);
            foreach (var key in byPrimary)
            {
                Assert.Equal("loaded", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("loaded")).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
            }

            Assert.Equal(CircuitState.Open, cache.GetCircuitState(0));
        }
        finally
        {
            foreach (var port in cluster.Ports)
            {
                cluster.Signal(port, "CONT");
            }
        }
    }
}
