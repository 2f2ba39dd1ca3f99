namespace TaiCache;

/// <summary>
/// A tier that reads a batch of keys into an array aligned with the keys, each hit with the expiry the tier knows for it.
/// <see cref="Tiering.MultiTierCache"/> uses it when a tier offers it, and <see cref="ICacheOps.GetManyAsync{T}"/>
/// otherwise (whose dictionary carries no expiries, so copies of its hits take the entry's TTL). Every tier TaiCache
/// ships implements it; a tier of your own may, to read in one round trip and report expiries (see
/// <see cref="CacheResult{T}(T, DateTimeOffset)"/>).
/// </summary>
public interface IBatchReader
{
    /// <summary>Reads a batch of keys.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys, already checked by the caller against the default key rules (a tier still applies
    /// any stricter limit of its own before it sends anything); a key given twice is read twice.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>One result per key, at the key's index: a hit with the value (and its expiry where known), or a miss.</returns>
    ValueTask<CacheResult<T>[]> ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken);
}
