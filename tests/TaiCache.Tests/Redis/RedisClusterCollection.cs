using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>One three-primary Redis Cluster shared by the cluster test classes (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "redis-cluster";
}
