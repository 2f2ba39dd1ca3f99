namespace TaiCache.Tests.Fixtures;

/// <summary>
/// A three-primary Redis Cluster whose nodes wait a minute before marking a silent one failed, so a test can hang a
/// primary (<c>SIGSTOP</c>) and watch clients meet it while the other primaries still serve their slots.
/// </summary>
public sealed class HungPrimaryRedisClusterFixture : RedisClusterFixture
{
    /// <inheritdoc />
    protected override int NodeTimeoutMilliseconds => 60_000;
}
