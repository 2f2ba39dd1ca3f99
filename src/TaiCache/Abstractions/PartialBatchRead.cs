namespace TaiCache;

/// <summary>
/// What a batch read of a tier of several nodes could not read (see <see cref="IPartialBatchReader"/>): the indexes of
/// the keys whose node was down or hung while the others answered. Thread safe: a tier's nodes answer in parallel.
/// </summary>
internal sealed class PartialBatchRead
{
    private readonly Lock _sync = new();
    private List<int>? _unanswered;

    /// <summary>Gets whether some keys were left as misses because their node did not answer.</summary>
    public bool Occurred
    {
        get
        {
            lock (_sync)
            {
                return _unanswered is not null;
            }
        }
    }

    /// <summary>Records keys left as misses because their node did not answer.</summary>
    /// <param name="indexes">The keys' indexes in the batch.</param>
    public void Unanswered(IEnumerable<int> indexes)
    {
        lock (_sync)
        {
            (_unanswered ??= []).AddRange(indexes);
        }
    }

    /// <summary>The keys of the batch whose node did not answer.</summary>
    /// <param name="keys">The batch's keys, as they were read.</param>
    /// <returns>The unanswered keys.</returns>
    public HashSet<string> UnansweredKeys(IReadOnlyList<string> keys)
    {
        lock (_sync)
        {
            var unanswered = new HashSet<string>(StringComparer.Ordinal);
            foreach (var index in _unanswered ?? [])
            {
                unanswered.Add(keys[index]);
            }

            return unanswered;
        }
    }
}
