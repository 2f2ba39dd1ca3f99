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

    /// <summary>
    /// The glob to send Redis for one the manager matches itself: Redis matches UTF-8 bytes (<c>?</c> and a class match
    /// one byte), the manager UTF-16 characters, so <c>user:?</c> never listed <c>user:é</c> on the server though L1
    /// selects it. A glob with <c>?</c>, a class or a non-ASCII character is sent as its ASCII literal start (then
    /// <c>*</c>), and the manager's own match picks the keys.
    /// </summary>
    internal static string ByteSafe(string glob)
    {
        if (!glob.Any(static c => c is '?' or '[' or > (char)127))
        {
            return glob; // only '*' and ASCII literals: bytes and characters agree
        }

        var start = new System.Text.StringBuilder(glob.Length);
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            if (c is '*' or '?' or '[' or > (char)127 || (c == '\\' && (i + 1 == glob.Length || glob[i + 1] > 127)))
            {
                break;
            }

            start.Append(c);
            if (c == '\\')
            {
                start.Append(glob[++i]);
            }
        }

        return start.Append('*').ToString();
    }

    /// <summary>Whether <see cref="TryEnumerate"/> can list a tier's keys.</summary>
    public static bool CanList(ICacheOps tier) => tier is RedisCache or SqliteTier;

    /// <summary>Lists a tier's keys matching a glob, or returns <see langword="null"/> when the tier cannot list keys.</summary>
    public static IAsyncEnumerable<string>? TryEnumerate(ICacheOps tier, string glob, CancellationToken cancellationToken) =>
        tier switch
        {
            RedisCache redis => redis.KeysAsync(ByteSafe(glob), 500, cancellationToken),
            SqliteTier sqlite => sqlite.KeysAsync(glob, 500, cancellationToken),
            _ => null,
        };
}
