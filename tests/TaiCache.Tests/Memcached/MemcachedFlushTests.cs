using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>flush_all, on a server this class owns alone.</summary>
public sealed class MemcachedFlushTests : IClassFixture<MemcachedServerFixture>
{
    private readonly MemcachedServerFixture _fixture;

    public MemcachedFlushTests(MemcachedServerFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task FlushAsync_RemovesEverything()
    {
        Assert.True(_fixture.OwnsServer, "flush runs only on a server the fixture started");
        await using var cache = new MemcachedCache(_fixture.Options());
        await cache.SetAsync("flush:a", 1);
        await cache.IncrementAsync("flush:counter");
        await cache.FlushAsync();
        Assert.False(await cache.ExistsAsync("flush:a"));
        Assert.False(await cache.ExistsAsync("flush:counter"));
        using var raw = new MemcachedRawClient(_fixture.Server.Host, _fixture.Server.Port);
        Assert.Equal("1", raw.Stats()["cmd_flush"]);
        await cache.SetAsync("flush:b", 2);
        Assert.Equal(2, (await cache.GetAsync<int>("flush:b")).Value);
    }
}
