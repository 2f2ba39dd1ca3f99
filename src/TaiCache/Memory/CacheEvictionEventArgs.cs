namespace TaiCache;

/// <summary>Describes an entry that left an <see cref="InMemoryTier"/>.</summary>
public sealed class CacheEvictionEventArgs : EventArgs
{
    /// <summary>Initializes the arguments.</summary>
    /// <param name="key">The entry's key.</param>
    /// <param name="reason">Why it left.</param>
    public CacheEvictionEventArgs(string key, EvictionReason reason)
    {
        Key = key;
        Reason = reason;
    }

    /// <summary>Gets the entry's key.</summary>
    public string Key { get; }

    /// <summary>Gets why the entry left.</summary>
    public EvictionReason Reason { get; }
}
