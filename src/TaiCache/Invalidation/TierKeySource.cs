using TaiCache.Redis;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Invalidation;

/// <summary>
/// Finds what the manager can do with each tier: list its keys (Redis: <c>SCAN</c> on every primary, through
/// <see cref="RedisCache.KeysAsync"/>; SQLite: pages of its key index, through <see cref="SqliteTier.KeysAsync"/>), or
/// not (in-memory tiers, memcached), looking inside a
/// <see cref="MultiTierCache"/> at the tiers it is made of.
/// </summary>
internal static class TierKeySource
{
    /// <summary>Lists the leaf tiers: a multi-tier cache's own tiers (recursively), else the tier itself.</summary>
    public static IEnumerable<ICacheOps> Leaves(IEnumerable<ICacheOps> tiers)
    {
        foreach (var tier in tiers)
        {
            if (tier is MultiTierCache multi)
            {
                foreach (var inner in Leaves(multi.Tiers))
                {
                    yield return inner;
                }
            }
            else
            {
                yield return tier;
            }
        }
    }

    /// <summary>Whether <see cref="TryEnumerate"/> can list a tier's keys.</summary>
    public static bool CanList(ICacheOps tier) => tier is RedisCache or SqliteTier;

    /// <summary>Lists a tier's keys matching a glob, or returns <see langword="null"/> when the tier cannot list keys.</summary>
    public static IAsyncEnumerable<string>? TryEnumerate(ICacheOps tier, string glob, CancellationToken cancellationToken) =>
        tier switch
        {
            RedisCache redis => redis.KeysAsync(glob, 500, cancellationToken),
            SqliteTier sqlite => sqlite.KeysAsync(glob, 500, cancellationToken),
            _ => null,
        };
}
