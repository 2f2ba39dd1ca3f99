using System.Net;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Redis;

/// <summary>
/// One primary of a three-primary Cluster killed (this class owns its cluster): its keys fail at once as a partial
/// outage, the other primaries keep serving, and a multi-tier cache's circuit stays closed. Runs within the cluster's
/// node timeout (5 s), before Redis itself declares the cluster down.
/// </summary>
public sealed class RedisClusterShardDownTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task PrimaryKilled_ItsKeysFailAtOnceAsPartialOutage_OtherShardsServe_CircuitStaysClosed()
    {
        Assert.True(cluster.Ports.Count > 0, "This test kills a primary, so it needs the cluster its fixture starts; unset TAICACHE_REDIS_CLUSTER.");
        var prefix = $"shard:{Guid.NewGuid():N}:";
        await using var redis = await RedisCache.ConnectAsync(cluster.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, OperationTimeout = TimeSpan.FromSeconds(3) });
        var keys = Enumerable.Range(0, 60).Select(i => "k" + i).ToArray();
        await redis.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k)));
        var configuration = redis.Multiplexer.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        EndPoint Owner(string key) => configuration.GetBySlot((RedisKey)(prefix + key))!.EndPoint!;
        var victim = Owner(keys[0]);
        var dead = keys.Where(k => Owner(k).Equals(victim)).ToArray();
        var alive = keys.Except(dead).ToArray();

        cluster.Kill(((IPEndPoint)victim).Port);
        await TierTestKit.Eventually(() => !redis.Multiplexer.GetServer(victim).IsConnected);

        // The first may still go to StackExchange.Redis (the connection-failed event can come later); from the second
        // on, the dead primary's keys fail without waiting.
        var first = await Assert.ThrowsAsync<CacheConnectionException>(async () => await redis.GetAsync<string>(dead[0]));
        Assert.True(first.IsPartialOutage);
        var single = await Assert.ThrowsAsync<CacheConnectionException>(async () => await redis.GetAsync<string>(dead[1]));
        Assert.True(single.IsPartialOutage);
        Assert.Contains("Cluster primary", single.Message, StringComparison.Ordinal);
        Assert.Equal(alive[0], (await redis.GetAsync<string>(alive[0])).Value);
        var many = await Assert.ThrowsAsync<CacheConnectionException>(async () => await redis.GetManyAsync<string>(keys));
        Assert.True(many.IsPartialOutage); // a plain batch spanning the dead shard fails as a whole

        var options = new MultiTierCacheOptions { Name = "shards", OwnsTiers = false, CircuitBreakerFailureThreshold = 3 };
        options.Tiers.Add(redis);
        await using var cache = new MultiTierCache(options);
        foreach (var key in dead.Take(6))
        {
            Assert.Equal("loaded", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("loaded")));
        }

        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(0)); // six failures in a row, none counted
        foreach (var key in alive.Take(6))
        {
            Assert.Equal(key, await cache.GetOrSetAsync(key, _ => new ValueTask<string>("loaded"))); // from Redis
        }

        var batch = await cache.GetOrSetManyAsync(keys, (missing, _) =>
            new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, _ => "batch")));
        Assert.All(alive, k => Assert.Equal(k, batch[k]));
        Assert.All(dead, k => Assert.Equal("batch", batch[k]));

        // Keys Redis never held, loaded by a batch: the live primaries store theirs (the tier failed only in part), so
        // the next batch loads only the dead primary's keys again.
        var fresh = Enumerable.Range(0, 60).Select(i => "fresh" + i).ToArray();
        var freshDead = fresh.Where(k => Owner(k).Equals(victim)).ToArray();
        var loads = new List<string[]>();
        ValueTask<IReadOnlyDictionary<string, string>> Load(IReadOnlyList<string> missing)
        {
            loads.Add([.. missing]);
            return new ValueTask<IReadOnlyDictionary<string, string>>(missing.ToDictionary(k => k, k => "loaded:" + k));
        }

        _ = await cache.GetOrSetManyAsync(fresh, (missing, _) => Load(missing));
        Assert.Equal(fresh.Order(), loads[0].Order());
        foreach (var key in fresh.Except(freshDead))
        {
            Assert.Equal("loaded:" + key, (await redis.GetAsync<string>(key)).Value);
        }

        _ = await cache.GetOrSetManyAsync(fresh, (missing, _) => Load(missing));
        Assert.Equal(freshDead.Order(), loads[1].Order());
    }
}
