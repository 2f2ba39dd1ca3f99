namespace TaiCache.Memcached;

/// <summary>What may be done with a single-key request after it failed: run again on a fresh connection, or sent to the next node under <see cref="MemcachedFailoverPolicy.Redistribute"/>.</summary>
internal enum MemcachedRequestKind
{
    /// <summary>Sending it twice leaves the same state as once (get, touch, set, delete): retried and moved even after its bytes may have reached the server.</summary>
    Idempotent = 0,

    /// <summary>Not idempotent (add, replace, increment, decrement): retried on a fresh connection and moved to the next node only if none of its bytes was sent.</summary>
    Once = 1,

    /// <summary>Carries a CAS token, which only the node that issued it can compare: retried on a fresh connection to that node if none of its bytes was sent, never moved.</summary>
    NodeBound = 2,
}
