namespace TaiCache;

/// <summary>
/// What a batch read of a tier of several nodes could not read (see <see cref="IPartialBatchReader"/>): the indexes of
/// the keys whose node was down or hung while the others answered. Thread safe: a tier's nodes answer in parallel.
/// </summary>
internal sealed class PartialBatchRead
{
    // Made (and locked) only when a node did not answer: a batch read that every node answers allocates nothing more
    // than this object, as the flag it replaces did.
    private List<int>? _unanswered;

    /// <summary>Gets whether some keys were left as misses because their node did not answer.</summary>
    public bool Occurred => Volatile.Read(ref _unanswered) is not null;

    /// <summary>Records keys left as misses because their node did not answer.</summary>
    /// <param name="indexes">The keys' indexes in the batch.</param>
    public void Unanswered(IEnumerable<int> indexes)
    {
        var unanswered = Volatile.Read(ref _unanswered) ?? Interlocked.CompareExchange(ref _unanswered, [], null) ?? _unanswered!;
        lock (unanswered)
        {
            unanswered.AddRange(indexes);
        }
    }

    /// <summary>The keys of the batch whose node did not answer.</summary>
    /// <param name="keys">The batch's keys, as they were read.</param>
    /// <returns>The unanswered keys.</returns>
    public HashSet<string> UnansweredKeys(IReadOnlyList<string> keys)
    {
        var keysLeft = new HashSet<string>(StringComparer.Ordinal);
        if (Volatile.Read(ref _unanswered) is { } unanswered)
        {
            lock (unanswered)
            {
                foreach (var index in unanswered)
                {
                    keysLeft.Add(keys[index]);
                }
            }
        }

        return keysLeft;
    }
}
