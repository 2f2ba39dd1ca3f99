namespace TaiCache.Redis;

/// <summary>
/// Server-side figures summed over every primary a <see cref="RedisCache"/> uses (a cluster's primaries, or the one
/// server). They count the whole server, not only this cache's namespace.
/// </summary>
public sealed class RedisCacheStatistics
{
    /// <summary>Gets how many primaries answered.</summary>
    public int Primaries { get; init; }

    /// <summary>Gets the keys in the cache's database, summed over primaries (<c>DBSIZE</c>).</summary>
    public long Keys { get; init; }

    /// <summary>Gets the memory the servers use, in bytes (<c>used_memory</c>).</summary>
    public long UsedMemoryBytes { get; init; }

    /// <summary>Gets the servers' successful key lookups since they started (<c>keyspace_hits</c>).</summary>
    public long KeyspaceHits { get; init; }

    /// <summary>Gets the servers' failed key lookups since they started (<c>keyspace_misses</c>).</summary>
    public long KeyspaceMisses { get; init; }

    /// <summary>Gets the keys the servers evicted for lack of memory (<c>evicted_keys</c>).</summary>
    public long EvictedKeys { get; init; }

    /// <summary>Gets the keys the servers expired (<c>expired_keys</c>).</summary>
    public long ExpiredKeys { get; init; }

    /// <summary>Gets the clients connected to the servers (<c>connected_clients</c>).</summary>
    public long ConnectedClients { get; init; }

    /// <summary>Gets the servers' hit ratio, hits over lookups, or 0 before any lookup.</summary>
    public double HitRatio => KeyspaceHits + KeyspaceMisses == 0 ? 0 : (double)KeyspaceHits / (KeyspaceHits + KeyspaceMisses);
}
