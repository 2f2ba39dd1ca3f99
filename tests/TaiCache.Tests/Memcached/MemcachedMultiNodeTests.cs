using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>Three real memcached processes: ketama spread, a node killed mid-run and brought back.</summary>
public sealed class MemcachedMultiNodeTests : IClassFixture<MemcachedClusterFixture>
{
    private readonly MemcachedClusterFixture _cluster;

    public MemcachedMultiNodeTests(MemcachedClusterFixture cluster) => _cluster = cluster;

    private static string Key(string test, int i) => $"{nameof(MemcachedMultiNodeTests)}:{test}:{i}:{Guid.NewGuid():N}";

    /// <summary>
    /// Ketama written out again, plainly (linear scan, no shared code): 40 MD5 digests of "host:port-i" per server,
    /// four little-endian points each; a key goes to the first point at or after the little-endian head of its MD5.
    /// </summary>
    private static int ExpectedNode(IReadOnlyList<MemcachedServer> servers, string key)
    {
        var points = new List<(uint Point, int Node)>();
        for (var n = 0; n < servers.Count; n++)
        {
            for (var i = 0; i < 40; i++)
            {
                var digest = MD5.HashData(Encoding.ASCII.GetBytes($"{servers[n].Host}:{servers[n].Port}-{i}"));
                for (var x = 0; x < 4; x++)
                {
                    points.Add((BinaryPrimitives.ReadUInt32LittleEndian(digest.AsSpan(x * 4)), n));
                }
            }
        }

        var hash = BinaryPrimitives.ReadUInt32LittleEndian(MD5.HashData(Encoding.UTF8.GetBytes(key)));
        var ordered = points.OrderBy(p => p.Point).ToList();
        var owner = ordered.FirstOrDefault(p => p.Point >= hash, ordered[0]);
        return owner.Node;
    }

    [Fact]
    public async Task SetAsync_ManyKeys_LandOnTheirKetamaNodeOnly()
    {
        var servers = _cluster.Servers;
        await using var cache = new MemcachedCache(_cluster.Options());
        var keys = Enumerable.Range(0, 300).Select(i => Key(nameof(SetAsync_ManyKeys_LandOnTheirKetamaNodeOnly), i)).ToList();
        await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k.Length)));

        var raws = servers.Select(s => new MemcachedRawClient(s.Host, s.Port)).ToList();
        try
        {
            var perNode = new int[servers.Count];
            foreach (var key in keys)
            {
                var expected = ExpectedNode(servers, key);
                perNode[expected]++;
                Assert.Equal(servers[expected].ToString(), cache.GetServerForKey(key).ToString());
                for (var n = 0; n < servers.Count; n++)
                {
                    Assert.Equal(n == expected, raws[n].Get(key) is not null);
                }
            }

            Assert.All(perNode, count => Assert.InRange(count, 40, 180));
        }
        finally
        {
            raws.ForEach(r => r.Dispose());
        }

        Assert.Equal(300, (await cache.GetManyAsync<int>(keys)).Count);
    }

    [Fact]
    public async Task NodeKilledMidRun_OthersKeepServing_AndNodeRecoversAfterRestart()
    {
        var servers = _cluster.Servers;
        await using var cache = new MemcachedCache(_cluster.Options(o =>
        {
            o.DeadNodeRetryInterval = TimeSpan.FromMilliseconds(200);
            o.MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(1);
            o.ConnectTimeout = TimeSpan.FromSeconds(1);
        }));
        var keys = Enumerable.Range(0, 120).Select(i => Key("kill", i)).ToList();
        var owner = keys.ToDictionary(k => k, k => ExpectedNode(servers, k));
        const int victim = 1;
        foreach (var k in keys)
        {
            await cache.SetAsync(k, k);
        }

        _cluster.Kill(victim);
        var failuresOnVictim = 0;
        var slowestFailure = TimeSpan.Zero;
        for (var round = 0; round < 3; round++)
        {
            foreach (var k in keys)
            {
                if (owner[k] != victim)
                {
                    Assert.Equal(k, (await cache.GetAsync<string>(k)).Value); // the others keep serving
                    await cache.SetAsync(k, k);
                    continue;
                }

                var watch = Stopwatch.StartNew();
                await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(k));
                slowestFailure = watch.Elapsed > slowestFailure ? watch.Elapsed : slowestFailure;
                failuresOnVictim++;
            }
        }

        Assert.True(failuresOnVictim > 0);
        Assert.True(slowestFailure < TimeSpan.FromSeconds(3), $"a failure on the dead node took {slowestFailure}");

        await _cluster.RestartAsync(victim);
        var victimKey = keys.First(k => owner[k] == victim);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await cache.SetAsync(victimKey, "back");
                break;
            }
            catch (CacheConnectionException) when (deadline.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal("back", (await cache.GetAsync<string>(victimKey)).Value);
        using var raw = new MemcachedRawClient(servers[victim].Host, servers[victim].Port);
        Assert.NotNull(raw.Get(victimKey)); // really on the restarted node
        Assert.Equal(keys.Count(k => owner[k] != victim), (await cache.GetManyAsync<string>(keys.Where(k => owner[k] != victim))).Count);
    }

    /// <summary>A cache that moves a down node's keys to the next node, and does not probe the node back within a test.</summary>
    private MemcachedCache RedistributingCache() => new(_cluster.Options(o =>
    {
        o.FailoverPolicy = MemcachedFailoverPolicy.Redistribute;
        o.DeadNodeRetryInterval = TimeSpan.FromSeconds(30);
        o.MaxDeadNodeRetryInterval = TimeSpan.FromSeconds(30);
    }));

    [Fact]
    public async Task RedistributePolicy_DeadNodeKeysMoveToNextNode()
    {
        var servers = _cluster.Servers;
        await using var cache = RedistributingCache();
        const int victim = 2;
        var key = Enumerable.Range(0, 1000).Select(i => Key("redistribute", i)).First(k => ExpectedNode(servers, k) == victim);
        _cluster.Kill(victim);
        try
        {
            // The first call finds the node dead and goes on to the next node; after that the key is served there.
            await cache.SetAsync(key, "moved");
            Assert.True(cache.Nodes[victim].IsDown());
            Assert.Equal("moved", (await cache.GetAsync<string>(key)).Value);
            Assert.Contains(servers.Where((_, i) => i != victim), s =>
            {
                using var raw = new MemcachedRawClient(s.Host, s.Port);
                return raw.Get(key) is not null;
            });
        }
        finally
        {
            await _cluster.RestartAsync(victim);
        }
    }

    [Fact]
    public async Task RedistributePolicy_BatchesFindingANodeDead_MoveItsPartToTheNextNode()
    {
        var servers = _cluster.Servers;
        await using var cache = RedistributingCache();
        const int victim = 1;
        var keys = Enumerable.Range(0, 60).Select(i => Key("redistribute-batch", i)).ToList();
        Assert.Contains(keys, k => ExpectedNode(servers, k) == victim);
        _cluster.Kill(victim);
        try
        {
            // The batch finds the victim dead: its part goes to the live nodes instead of failing the whole call.
            await cache.SetManyAsync(keys.Select(k => KeyValuePair.Create(k, k)));
            Assert.True(cache.Nodes[victim].IsDown());
            var read = await cache.GetManyAsync<string>(keys);
            Assert.Equal(keys.Count, read.Count);
            Assert.All(keys, k => Assert.Equal(k, read[k]));
            Assert.Equal(keys.Count, await cache.DeleteManyAsync(keys));
            Assert.Empty(await cache.GetManyAsync<string>(keys));
        }
        finally
        {
            await _cluster.RestartAsync(victim);
        }
    }

    [Fact]
    public async Task RedistributePolicy_GetManyFindingANodeDead_ReadsItsPartFromTheNextNode()
    {
        var servers = _cluster.Servers;
        await using var cache = RedistributingCache();
        const int victim = 0;
        var keys = Enumerable.Range(0, 60).Select(i => Key("redistribute-getmany", i)).ToList();
        var moved = keys.Where(k => ExpectedNode(servers, k) == victim).ToList();
        Assert.NotEmpty(moved);
        _cluster.Kill(victim);
        try
        {
            // The first read that meets the dead node is served by the next one: a miss there, not an exception.
            var read = await cache.GetManyAsync<string>(keys);
            Assert.True(cache.Nodes[victim].IsDown());
            Assert.DoesNotContain(moved, read.ContainsKey);
        }
        finally
        {
            await _cluster.RestartAsync(victim);
        }
    }
    [Theory]
    [InlineData("increment")]
    [InlineData("decrement")]
    [InlineData("add")]
    [InlineData("replace")]
    public async Task RedistributePolicy_NonIdempotentCallFindingItsNodeDeadAtCheckout_GoesToTheNextNode(string call)
    {
        // Nothing was sent to the dead node (its connect was refused), so the call is safe to send to the next node, as a
        // get or set is; it threw CacheConnectionException instead, once per outage, where gets and sets did not.
        var servers = _cluster.Servers;
        await using var cache = RedistributingCache();
        const int victim = 1;
        var key = Enumerable.Range(0, 1000).Select(i => Key("redistribute-" + call, i)).First(k => ExpectedNode(servers, k) == victim);
        _cluster.Kill(victim);
        try
        {
            switch (call)
            {
                case "increment":
                    Assert.Equal(5UL, await cache.IncrementAsync(key, 1, initialValue: 5));
                    Assert.Equal(6UL, await cache.IncrementAsync(key, 1, initialValue: 5));
                    break;
                case "decrement":
                    Assert.Equal(5UL, await cache.DecrementAsync(key, 1, initialValue: 5));
                    Assert.Equal(4UL, await cache.DecrementAsync(key, 1, initialValue: 5));
                    break;
                case "add":
                    Assert.True(await cache.AddAsync(key, "added"));
                    Assert.Equal("added", (await cache.GetAsync<string>(key)).Value);
                    break;
                default:
                    Assert.False(await cache.ReplaceAsync(key, "replaced")); // the next node holds nothing under the key
                    break;
            }

            Assert.True(cache.Nodes[victim].IsDown());
        }
        finally
        {
            await _cluster.RestartAsync(victim);
        }
    }

    [Fact]
    public async Task RedistributePolicy_CompareAndSwapFindingItsNodeDead_IsNotMoved_AndSaysWhy()
    {
        // A CAS token is the issuing server's: sent to the next node it would be compared with another item's token.
        var servers = _cluster.Servers;
        await using var cache = RedistributingCache();
        const int victim = 0;
        var key = Enumerable.Range(0, 1000).Select(i => Key("redistribute-cas", i)).First(k => ExpectedNode(servers, k) == victim);
        await cache.SetAsync(key, "v1");
        var read = await cache.GetWithCasAsync<string>(key);
        Assert.True(read.HasValue);
        _cluster.Kill(victim);
        try
        {
            var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.CompareAndSwapAsync(key, "v2", read.Cas));
            Assert.Contains("CAS token", ex.Message, StringComparison.Ordinal);
            Assert.Contains("not sent to another node", ex.Message, StringComparison.Ordinal);
            Assert.Contains("GetWithCasAsync", ex.Message, StringComparison.Ordinal);
            Assert.True(cache.Nodes[victim].IsDown());
            Assert.All(servers.Where((_, i) => i != victim), s =>
            {
                using var raw = new MemcachedRawClient(s.Host, s.Port);
                Assert.Null(raw.Get(key)); // nothing was written elsewhere
            });
        }
        finally
        {
            await _cluster.RestartAsync(victim);
        }
    }
}
