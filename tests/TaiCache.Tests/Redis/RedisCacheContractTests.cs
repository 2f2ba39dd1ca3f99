using TaiCache.Redis;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>The shared contract, run against <see cref="RedisCache"/> on a real single redis-server.</summary>
public sealed class RedisCacheContractTests : CacheOpsContractTests, IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _server;
    private RedisCache? _cache;

    public RedisCacheContractTests(RedisServerFixture server) => _server = server;

    protected override ICacheOps Cache => _cache!;

    // Redis expires keys on access with millisecond precision, so a short real wait is enough.
    protected override TimeSpan ShortTtl => TimeSpan.FromMilliseconds(400);

    protected override Task LetTimePassAsync(TimeSpan ttl) => Task.Delay(ttl + TimeSpan.FromMilliseconds(300));

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
