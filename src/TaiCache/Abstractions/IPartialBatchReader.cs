namespace TaiCache;

/// <summary>
/// A tier of several nodes whose batch read can answer in part: the keys of a node that is down or hung while the
/// others answer come back as misses, and the caller is told which, so a multi-tier cache does not wait on that node
/// again in the same call (storing the values it then loads for those keys), which would cost a second timeout, while
/// the healthy nodes still get theirs.
/// </summary>
internal interface IPartialBatchReader
{
    /// <summary>Reads a batch as <see cref="IBatchReader.ReadManyAsync{T}"/> does.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys.</param>
    /// <param name="partial">Gets the keys left as misses because their part of the tier did not answer.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>One result per key, at the key's index.</returns>
    ValueTask<CacheResult<T>[]> ReadManyAsync<T>(IReadOnlyList<string> keys, PartialBatchRead partial, CancellationToken cancellationToken);
}
