namespace TaiCache.Adapters;

/// <summary>
/// The tags of this instance's adapter writes that are on their way to the cache (tagged, value not yet stored), by
/// key. A write of a key that overlaps another keeps the other's tags in the key's tag list instead of dropping them,
/// so whichever value lands last, its tags are among those recorded: a tag too many costs a needless removal, a tag
/// too few would leave a stale value that <c>RemoveByTagAsync</c> misses. Thread safe.
/// </summary>
internal sealed class TagWritesInFlight
{
    private readonly Dictionary<string, List<string[]>> _byKey = new(StringComparer.Ordinal);

    /// <summary>Records a write of <paramref name="key"/> with <paramref name="tags"/> (the array itself identifies it for <see cref="Remove"/>).</summary>
    public void Add(string key, string[] tags)
    {
        lock (_byKey)
        {
            if (!_byKey.TryGetValue(key, out var writes))
            {
                writes = [];
                _byKey.Add(key, writes);
            }

            writes.Add(tags);
        }
    }

    /// <summary>Forgets a write recorded by <see cref="Add"/>, once its value is stored (or failed).</summary>
    public void Remove(string key, string[] tags)
    {
        lock (_byKey)
        {
            if (_byKey.TryGetValue(key, out var writes))
            {
                writes.Remove(tags); // by reference: the array recorded
                if (writes.Count == 0)
                {
                    _byKey.Remove(key);
                }
            }
        }
    }

    /// <summary>Gets <paramref name="own"/> with the tags of every other write of the key still in flight, without repeats.</summary>
    public string[] WithOthers(string key, string[] own)
    {
        lock (_byKey)
        {
            if (!_byKey.TryGetValue(key, out var writes) || (writes.Count == 1 && ReferenceEquals(writes[0], own)))
            {
                return own;
            }

            var union = new List<string>(own);
            var seen = new HashSet<string>(own, StringComparer.Ordinal);
            foreach (var tags in writes)
            {
                foreach (var tag in tags)
                {
                    if (seen.Add(tag))
                    {
                        union.Add(tag);
                    }
                }
            }

            return [.. union];
        }
    }
}
