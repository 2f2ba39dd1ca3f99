using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Tiering;

/// <summary>Batch reads of a <see cref="TaiCache.Tiering.MultiTierCache"/> through one real redis-server.</summary>
public sealed class MultiTierRedisBatchTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public Task GetManyAsync_ThroughRedis_ValuesAlignedWithKeysAndCopiedIntoL1() =>
        MultiTierBatchChecks.ReadThroughAlignsValuesWithKeysAsync(redis.ConnectionString, nameof(MultiTierRedisBatchTests));
}
