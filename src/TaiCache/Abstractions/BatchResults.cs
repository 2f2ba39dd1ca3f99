namespace TaiCache;

/// <summary>Turns the aligned results of a batch read (<see cref="IBatchReader"/>) into the dictionary <see cref="ICacheOps.GetManyAsync{T}"/> returns.</summary>
internal static class BatchResults
{
    /// <summary>The hits, keyed by their keys (a key read twice appears once).</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys read.</param>
    /// <param name="results">One result per key, at the key's index.</param>
    /// <returns>The values found.</returns>
    public static Dictionary<string, T> ToDictionary<T>(IReadOnlyList<string> keys, CacheResult<T>[] results)
    {
        var found = new Dictionary<string, T>(keys.Count, StringComparer.Ordinal);
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i].HasValue)
            {
                found[keys[i]] = results[i].Value;
            }
        }

        return found;
    }
}
