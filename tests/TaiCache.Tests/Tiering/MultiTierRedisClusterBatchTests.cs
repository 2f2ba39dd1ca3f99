using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Redis;

namespace TaiCache.Tests.Tiering;

/// <summary>Batch reads of a <see cref="TaiCache.Tiering.MultiTierCache"/> through the three-primary Redis Cluster (one MGET per hash slot).</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class MultiTierRedisClusterBatchTests(RedisClusterFixture cluster)
{
    [Fact]
    public Task GetManyAsync_ThroughCluster_ValuesAlignedWithKeysAndCopiedIntoL1() =>
        MultiTierBatchChecks.ReadThroughAlignsValuesWithKeysAsync(cluster.ConnectionString, nameof(MultiTierRedisClusterBatchTests));
}
