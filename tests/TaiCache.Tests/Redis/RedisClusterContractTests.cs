using TaiCache.Redis;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>The shared contract, run against <see cref="RedisCache"/> on a real three-primary Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterContractTests : TierContractTests, IAsyncLifetime
{
    private readonly RedisClusterFixture _cluster;
    private RedisCache? _cache;

    public RedisClusterContractTests(RedisClusterFixture cluster) => _cluster = cluster;

    protected override ICacheOps Cache => _cache!;

    [Fact]
    public Task ExpireAsync_ChangesTheExpiryRecordedInTheValue_SoCopiesAreCappedByIt() => AssertExpireUpdatesTheRecordedExpiryAsync();

    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(1.5);

    protected override Task LetTimePassAsync(TimeSpan ttl) => Task.Delay(ttl + TimeSpan.FromMilliseconds(500));

    public async Task InitializeAsync() =>
        _cache = await RedisCache.ConnectAsync(_cluster.ConnectionString, new RedisCacheOptions { KeyPrefix = "tc-cluster-contract:" });

    public async Task DisposeAsync()
    {
        if (_cache is not null)
        {
            await _cache.DisposeAsync();
        }
    }
}
