namespace TaiCache.Memcached;

/// <summary>What operations on a key do while the node that owns it is marked down.</summary>
public enum MemcachedFailoverPolicy
{
    /// <summary>
    /// Fail at once with <see cref="CacheConnectionException"/> (no network wait) until the node's background probe gets an answer.
    /// Keys never move, so no stale copy is left on another node when the node returns. The default, as in libmemcached.
    /// </summary>
    FailFast = 0,

    /// <summary>
    /// Send the key to the next live node clockwise on the ketama ring (libmemcached's auto-eject). Reads and writes keep
    /// working during the outage; when the node returns, keys go back to it, and values written elsewhere meanwhile are
    /// left to expire there. A call that finds its node dead goes on to the next node when that is safe: reads, sets,
    /// deletes and touches always, adds, replaces and counter updates only if none of their bytes was sent (the failure
    /// came at connection checkout). A compare-and-swap never does (its CAS token is the issuing server's): it throws
    /// <see cref="CacheConnectionException"/> saying so.
    /// </summary>
    Redistribute = 1,
}
