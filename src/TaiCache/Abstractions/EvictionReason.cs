namespace TaiCache;

/// <summary>Why an entry left a cache.</summary>
public enum EvictionReason
{
    /// <summary>The cache was full and the eviction policy chose the entry.</summary>
    Size = 0,

    /// <summary>The entry's time to live (or sliding window) passed.</summary>
    Expired = 1,

    /// <summary>The entry was removed explicitly (delete, invalidation, clear).</summary>
    Removed = 2,

    /// <summary>A new value was stored under the same key.</summary>
    Replaced = 3,
}
