using TaiCache.Memcached;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// Key placement against mappings computed by libmemcached 1.1.4 itself (libmemcached.so.11 with
/// MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, via memcached_server_by_key), so TaiCache puts keys where C/PHP/Python clients do.
/// No connection is opened: placement is pure.
/// </summary>
public sealed class KetamaLocatorTests
{
    private static MemcachedCache Cache(bool omitDefaultPort, params MemcachedServer[] servers)
    {
        var o = new MemcachedCacheOptions { KetamaOmitsDefaultPort = omitDefaultPort };
        foreach (var s in servers)
        {
            o.Servers.Add(s);
        }

        return new MemcachedCache(o);
    }

    [Theory]
    [InlineData("foo", "10.0.0.1:11212")]
    [InlineData("bar", "10.0.0.2:11212")]
    [InlineData("user:42", "10.0.0.2:11212")]
    [InlineData("session:abc", "10.0.0.3:11212")]
    [InlineData("a", "10.0.0.2:11212")]
    [InlineData("taicache", "10.0.0.1:11212")]
    public async Task GetServerForKey_EqualWeights_MatchesLibmemcached(string key, string expected)
    {
        await using var cache = Cache(true, new("10.0.0.1", 11212), new("10.0.0.2", 11212), new("10.0.0.3", 11212));
        Assert.Equal(expected, cache.GetServerForKey(key).ToString());
    }

    [Theory]
    [InlineData("foo", "10.0.0.2:11212")]
    [InlineData("bar", "10.0.0.2:11212")]
    [InlineData("session:abc", "10.0.0.3:11212")]
    [InlineData("taicache", "10.0.0.1:11212")]
    public async Task GetServerForKey_Weighted_MatchesLibmemcached(string key, string expected)
    {
        await using var cache = Cache(true, new("10.0.0.1", 11212), new("10.0.0.2", 11212, weight: 2), new("10.0.0.3", 11212));
        Assert.Equal(expected, cache.GetServerForKey(key).ToString());
    }

    [Theory]
    [InlineData("foo", "10.0.0.2:11211")]
    [InlineData("user:42", "10.0.0.1:11211")]
    [InlineData("taicache", "10.0.0.3:11211")]
    public async Task GetServerForKey_DefaultPort_MatchesLibmemcachedHostOnlyNaming(string key, string expected)
    {
        await using var cache = Cache(true, new("10.0.0.1"), new("10.0.0.2"), new("10.0.0.3"));
        Assert.Equal(expected, cache.GetServerForKey(key).ToString());
    }

    [Theory]
    [InlineData("foo", "10.0.0.3:11211")]
    [InlineData("bar", "10.0.0.1:11211")]
    [InlineData("taicache", "10.0.0.2:11211")]
    public async Task GetServerForKey_DefaultPortWithHostPortNaming_MatchesEnyimLayout(string key, string expected)
    {
        // Computed independently (Python hashlib) for "host:port-N" naming.
        await using var cache = Cache(false, new("10.0.0.1"), new("10.0.0.2"), new("10.0.0.3"));
        Assert.Equal(expected, cache.GetServerForKey(key).ToString());
    }

    [Fact]
    public void KetamaLocator_WeightedRing_GivesPointsInProportion()
    {
        var ring = new KetamaLocator<string>([("a", "h1:1", 1), ("b", "h2:1", 2), ("c", "h3:1", 1)]);
        Assert.Equal(480, ring.PointCount);
        var counts = Enumerable.Range(0, 20_000).Select(i => ring.Locate($"k{i}")).GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        Assert.InRange(counts["b"], 7_000, 13_000);
        Assert.InRange(counts["a"], 3_000, 7_000);
    }

    [Fact]
    public void KetamaLocator_Locate_SkipsRejectedNodes()
    {
        var ring = new KetamaLocator<string>([("a", "h1:1", 1), ("b", "h2:1", 1), ("c", "h3:1", 1)]);
        for (var i = 0; i < 200; i++)
        {
            var owner = ring.Locate($"k{i}");
            var fallback = ring.Locate($"k{i}", n => n != owner);
            Assert.NotNull(fallback);
            Assert.NotEqual(owner, fallback);
            Assert.Equal(owner, ring.Locate($"k{i}", _ => true));
        }

        Assert.Null(ring.Locate("k", _ => false));
    }
}
