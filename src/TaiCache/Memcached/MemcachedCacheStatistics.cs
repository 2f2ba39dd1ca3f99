namespace TaiCache.Memcached;

/// <summary>
/// Server-side figures summed over every memcached server of a <see cref="MemcachedCache"/> (memcached's <c>stats</c>).
/// They count the whole server, not only this cache's key prefix.
/// </summary>
public sealed class MemcachedCacheStatistics
{
    /// <summary>Gets the raw statistics of each server, by <c>host:port</c>: every <c>STAT</c> line, name to value.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Servers { get; init; }

    /// <summary>Gets the items the servers hold (<c>curr_items</c>).</summary>
    public long CurrentItems { get; init; }

    /// <summary>Gets the bytes the servers use to store items (<c>bytes</c>).</summary>
    public long Bytes { get; init; }

    /// <summary>Gets the bytes the servers may use for storage (<c>limit_maxbytes</c>).</summary>
    public long LimitMaxBytes { get; init; }

    /// <summary>Gets the servers' successful key lookups since they started (<c>get_hits</c>).</summary>
    public long GetHits { get; init; }

    /// <summary>Gets the servers' failed key lookups since they started (<c>get_misses</c>).</summary>
    public long GetMisses { get; init; }

    /// <summary>Gets the valid items the servers evicted for lack of memory (<c>evictions</c>).</summary>
    public long Evictions { get; init; }

    /// <summary>Gets the connections open to the servers (<c>curr_connections</c>).</summary>
    public long CurrentConnections { get; init; }

    /// <summary>Gets the servers' hit ratio, hits over lookups, or 0 before any lookup.</summary>
    public double HitRatio => GetHits + GetMisses == 0 ? 0 : (double)GetHits / (GetHits + GetMisses);
}
