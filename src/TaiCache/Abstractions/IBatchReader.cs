namespace TaiCache;

/// <summary>
/// A tier that reads a batch of keys into an array aligned with the keys, with no result dictionary. <see cref="Tiering.MultiTierCache"/> uses it when a tier offers it, and
/// <see cref="ICacheOps.GetManyAsync{T}"/> otherwise.
/// </summary>
internal interface IBatchReader
{
    /// <summary>Reads keys already checked against the default key rules (the tier still applies any stricter limit of its own before sending anything).</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys; a duplicate is read twice.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>One result per key, at the key's index: a hit with the value, or a miss.</returns>
    ValueTask<CacheResult<T>[]> ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken);
}
