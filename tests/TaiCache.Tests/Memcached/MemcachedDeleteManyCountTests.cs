using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// <c>DeleteManyAsync</c>'s count, whichever replies the server's quiet mode suppresses: memcached 1.6.18 (installed
/// here) answers a quiet <c>md</c> of a missing key with <c>NF</c>, a server that applies "noreply semantics" to
/// <c>NF</c> as well says nothing. Real memcached, and a scripted loopback server for the second kind.
/// </summary>
public sealed class MemcachedDeleteManyCountTests : IClassFixture<MemcachedServerFixture>
{
    private readonly MemcachedServerFixture _fixture;

    public MemcachedDeleteManyCountTests(MemcachedServerFixture fixture) => _fixture = fixture;

    private static string Key(string test, int i) => $"{nameof(MemcachedDeleteManyCountTests)}:{test}:{i}:{Guid.NewGuid():N}";

    [Fact]
    public async Task DeleteManyAsync_RealServer_CountsOnlyTheKeysItRemoved()
    {
        await using var cache = new MemcachedCache(_fixture.Options());
        var keys = Enumerable.Range(0, 10).Select(i => Key(nameof(DeleteManyAsync_RealServer_CountsOnlyTheKeysItRemoved), i)).ToList();
        await cache.SetManyAsync(keys.Where((_, i) => i % 3 == 0).Select(k => KeyValuePair.Create(k, "v")));

        Assert.Equal(4, await cache.DeleteManyAsync(keys));
        Assert.Equal(0, await cache.DeleteManyAsync(keys));
        Assert.Empty(await cache.GetManyAsync<string>(keys));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DeleteManyAsync_ServerWhoseQuietModeHidesNotFound_CountsNoneRemoved(bool quietHidesNotFound)
    {
        // Nothing is stored on this server, so no delete removes anything. Counted as sent - NF, a server that quiets NF
        // too made every key count as removed (3, not 0).
        await using var server = new FakeMemcachedServer { QuietDeleteHidesNotFound = quietHidesNotFound };
        var o = new MemcachedCacheOptions { OperationTimeout = TimeSpan.FromSeconds(5), PoolTimeout = TimeSpan.FromSeconds(5) };
        o.Servers.Add(new MemcachedServer("127.0.0.1", server.Port));
        await using var cache = new MemcachedCache(o);

        Assert.Equal(0, await cache.DeleteManyAsync(["a", "b", "c"]));
        Assert.False(await cache.DeleteAsync("a"));
    }
}
