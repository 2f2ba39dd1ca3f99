using TaiCache.Memcached;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>The shared <see cref="ICacheOps"/> contract against a real memcached.</summary>
public sealed class MemcachedCacheContractTests : TierContractTests, IClassFixture<MemcachedServerFixture>, IAsyncLifetime
{
    private readonly MemcachedCache _cache;

    public MemcachedCacheContractTests(MemcachedServerFixture fixture)
    {
        _cache = new MemcachedCache(fixture.Options());
    }

    protected override ICacheOps Cache => _cache;

    [Fact]
    public Task ExpireAsync_ChangesTheExpiryRecordedInTheValue_SoCopiesAreCappedByIt() => AssertExpireUpdatesTheRecordedExpiryAsync();

    /// <summary>memcached counts TTLs in whole seconds on a clock that ticks once a second, so one second could expire at once; two cannot.</summary>
    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(2);

    /// <summary>Waits out the TTL plus one tick of memcached's clock and a margin (bounded: 3.5 s).</summary>
    protected override Task LetTimePassAsync(TimeSpan ttl) => Task.Delay(ttl + TimeSpan.FromMilliseconds(1500));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();
}
