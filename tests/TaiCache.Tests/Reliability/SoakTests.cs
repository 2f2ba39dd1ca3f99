using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Memcached;
using TaiCache.Tiering;
using Xunit.Abstractions;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// Issue 8, bounded soak: 16 tasks run mixed operations for 15 s against L1+Redis+SQLite and L1+memcached caches.
/// At the end: every key holds its owner's last acknowledged write (or is absent after a delete), L1 never exceeds its
/// size bound, and neither server shows leaked client connections.
/// It runs alone, after the parallel collections, with 5 s operation timeouts: it checks what sustained concurrency
/// does to correctness, not latency. In two of five clean-clone CI runs of session 7 it shared the start of the
/// parallel run with the rest of the suite, and a call stalled past the test timeouts it had then (800 ms for Redis,
/// memcached's default 1 s), failing a set or a delete outright.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class SoakTests
{
    private static readonly TimeSpan SoakTimeout = TimeSpan.FromSeconds(5);

    private readonly ITestOutputHelper _output;

    public SoakTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task MixedOperations_ManyTasks_15s_NoLostWrites_SizesBounded_NoLeakedConnections()
    {
        await using var redis = await RedisServerFixture.StartRedisAsync(FreePort.Next());
        await using var memcached = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
        var db = ReliabilityKit.TempDb("soak");
        try
        {
            await using var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port},allowAdmin=true");
            using var raw = new MemcachedRawClient("127.0.0.1", memcached.Port);
            int RedisClients() => admin.GetServers()[0].ClientList().Length;
            int MemcachedConnections() => int.Parse(raw.Stats()["curr_connections"], CultureInfo.InvariantCulture);

            const int L1Max = 500;
            var prefix = ReliabilityKit.Prefix(nameof(SoakTests));
            var a = new MultiTierCacheOptions { Name = "soak-redis" };
            a.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1a", MaximumSize = L1Max }));
            a.Tiers.Add(ReliabilityKit.Redis(redis.Port, prefix, SoakTimeout));
            a.Tiers.Add(ReliabilityKit.Sqlite(db));
            var b = new MultiTierCacheOptions { Name = "soak-memcached" };
            b.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1b", MaximumSize = L1Max }));
            b.Tiers.Add(ReliabilityKit.Memcached(memcached.Port, prefix, SoakTimeout));
            await using var cacheA = new MultiTierCache(a);
            await using var cacheB = new MultiTierCache(b);
            await cacheA.SetAsync("warm", 1);
            await cacheB.SetAsync("warm", 1);
            var redisBefore = RedisClients();
            var memcachedBefore = MemcachedConnections();

            const int Tasks = 16;
            const int KeysPerTask = 100;
            var duration = TimeSpan.FromSeconds(15);
            var l1MaxSeen = 0L;
            var ops = 0L;
            var wrongReads = 0L;
            var watch = Stopwatch.StartNew();
            var finals = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
            {
                var rng = new Random(t);
                var cache = t % 2 == 0 ? cacheA : cacheB;
                var l1 = (InMemoryTier)cache.Tiers[0];
                var last = new Dictionary<string, int?>(); // null: deleted
                var version = 0;
                while (watch.Elapsed < duration)
                {
                    var key = $"t{t}:k{rng.Next(KeysPerTask)}";
                    switch (rng.Next(10))
                    {
                        case < 4:
                            await cache.SetAsync(key, ++version);
                            last[key] = version;
                            break;
                        case < 5:
                            await cache.DeleteAsync(key);
                            last[key] = null;
                            break;
                        case < 6:
                            var batch = Enumerable.Range(0, 5).Select(_ => $"t{t}:k{rng.Next(KeysPerTask)}").Distinct().ToArray();
                            var pairs = batch.Select(k => KeyValuePair.Create(k, ++version)).ToArray();
                            await cache.SetManyAsync(pairs);
                            foreach (var (k, v) in pairs)
                            {
                                last[k] = v;
                            }

                            break;
                        default:
                            var got = await cache.GetAsync<int>(key);
                            last.TryGetValue(key, out var expected);
                            if (got.HasValue != expected.HasValue || (got.HasValue && got.Value != expected))
                            {
                                Interlocked.Increment(ref wrongReads);
                            }

                            break;
                    }

                    Interlocked.Increment(ref ops);
                    var count = l1.Count;
                    if (count > Interlocked.Read(ref l1MaxSeen))
                    {
                        Interlocked.Exchange(ref l1MaxSeen, count);
                    }
                }

                return (cache, last);
            })));

            var lost = 0;
            var checkedKeys = 0;
            foreach (var (cache, last) in finals)
            {
                ((InMemoryTier)cache.Tiers[0]).Clear(); // read from the servers, not L1
                foreach (var (key, expected) in last)
                {
                    checkedKeys++;
                    var got = await cache.GetAsync<int>(key);
                    if (got.HasValue != expected.HasValue || (got.HasValue && got.Value != expected))
                    {
                        lost++;
                    }
                }
            }

            var redisAfter = RedisClients();
            var memcachedAfter = MemcachedConnections();
            _output.WriteLine($"soak {duration.TotalSeconds:F0} s, {Tasks} tasks: {ops} ops ({ops / duration.TotalSeconds:F0}/s), wrong reads during run {wrongReads}, " +
                $"final keys checked {checkedKeys}, lost or stale {lost}; L1 max count {l1MaxSeen} (bound {L1Max}); " +
                $"redis clients {redisBefore} -> {redisAfter}; memcached curr_connections {memcachedBefore} -> {memcachedAfter}");

            Assert.True(ops > 1000, $"only {ops} operations ran");
            Assert.Equal(0, lost);
            Assert.Equal(0, wrongReads);
            // Eviction runs right after an insert, so concurrent writers can overshoot the bound by one entry each, briefly.
            Assert.True(l1MaxSeen <= L1Max + Tasks, $"L1 held {l1MaxSeen} entries, bound {L1Max}");
            Assert.True(redisAfter <= redisBefore + 2, $"redis clients grew {redisBefore} -> {redisAfter}");
            Assert.True(memcachedAfter <= memcachedBefore + 32, $"memcached connections grew {memcachedBefore} -> {memcachedAfter}");
        }
        finally
        {
            ReliabilityKit.DeleteDb(db);
        }
    }
}
