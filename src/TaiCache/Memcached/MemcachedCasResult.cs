namespace TaiCache.Memcached;

/// <summary>A read that also returns the item's CAS token, for <see cref="MemcachedCache.CompareAndSwapAsync{T}"/>.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly struct MemcachedCasResult<T>
{
    /// <summary>Initializes a hit.</summary>
    /// <param name="value">The value.</param>
    /// <param name="cas">The CAS token.</param>
    public MemcachedCasResult(T value, ulong cas)
    {
        Value = value;
        Cas = cas;
        HasValue = true;
    }

    /// <summary>Gets a value indicating whether the key was found.</summary>
    public bool HasValue { get; }

    /// <summary>Gets the value (the default of <typeparamref name="T"/> on a miss).</summary>
    public T Value { get; }

    /// <summary>Gets the CAS token (0 on a miss).</summary>
    public ulong Cas { get; }
}
