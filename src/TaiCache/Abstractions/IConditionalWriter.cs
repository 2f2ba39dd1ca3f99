namespace TaiCache;

/// <summary>
/// A tier that can store a value only where its key holds none: Redis <c>SET NX</c>, memcached <c>add</c>, an insert
/// that yields to a live row. <see cref="Tiering.MultiTierCache"/> stores a factory's value, and copies a value found
/// lower down, this way, so neither overwrites a write another instance made in the meantime; a tier without it
/// takes a plain set (and may then overwrite a newer value). Every tier TaiCache ships implements it; a shared tier of
/// your own should, so that copies and fills never replace what another instance wrote.
/// </summary>
public interface IConditionalWriter
{
    /// <summary>Stores the value unless the key holds a live one.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for the tier's default.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when stored; <see langword="false"/> when the key already held a value.</returns>
    ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default);

    /// <summary>Stores each value unless its key holds a live one, in one round trip where the tier batches. Every key is
    /// checked and every value serialized before anything is sent.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="items">The keys and values; of a key given twice, the first is stored and the second yields to it.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for the tier's default.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>For each item, at its index, whether it was stored.</returns>
    ValueTask<bool[]> AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default);
}
