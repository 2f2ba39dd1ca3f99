using TaiCache.Redis;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>The shared contract, run against <see cref="RedisCache"/> on a real single redis-server.</summary>
public sealed class RedisCacheContractTests : TierContractTests, IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _server;
    private RedisCache? _cache;

    public RedisCacheContractTests(RedisServerFixture server) => _server = server;

    protected override ICacheOps Cache => _cache!;

    [Fact]
    public Task ExpireAsync_ChangesTheExpiryRecordedInTheValue_SoCopiesAreCappedByIt() => AssertExpireUpdatesTheRecordedExpiryAsync();

    // Redis expires keys on access with millisecond precision; the TTL only has to outlast a round trip on a loaded box.
    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(1.5);

    protected override Task LetTimePassAsync(TimeSpan ttl) => Task.Delay(ttl + TimeSpan.FromMilliseconds(500));

    public async Task InitializeAsync() =>
        _cache = await RedisCache.ConnectAsync(_server.ConnectionString, new RedisCacheOptions { KeyPrefix = "tc-contract:" });

    public async Task DisposeAsync()
    {
        if (_cache is not null)
        {
            await _cache.DisposeAsync();
        }
    }
}
