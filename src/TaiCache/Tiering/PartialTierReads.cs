namespace TaiCache.Tiering;

/// <summary>
/// The tiers whose batch read in one call answered only in part (a node down or hung while the others served, see
/// <see cref="IPartialBatchReader"/>), each with the keys left unanswered. Such a tier counts as failed for the call,
/// but the values then loaded or copied for the keys its answering part holds are still written there: skipping the
/// whole tier sent the healthy nodes' keys to the factory again on every read while the outage lasted.
/// </summary>
internal sealed class PartialTierReads
{
    private readonly Dictionary<int, HashSet<string>> _unanswered = [];

    /// <summary>Records a tier's unanswered keys (added to those of an earlier read of the call).</summary>
    /// <param name="tier">The tier's index.</param>
    /// <param name="keys">Its keys that were not answered.</param>
    public void Add(int tier, HashSet<string> keys)
    {
        if (_unanswered.TryGetValue(tier, out var known))
        {
            known.UnionWith(keys);
        }
        else
        {
            _unanswered[tier] = keys;
        }
    }

    /// <summary>Combines two calls' records; either may be <see langword="null"/>.</summary>
    /// <param name="first">The first record.</param>
    /// <param name="second">The second record.</param>
    /// <returns>The combined record, <see langword="null"/> when neither has one.</returns>
    public static PartialTierReads? Merge(PartialTierReads? first, PartialTierReads? second)
    {
        if (first is null || second is null)
        {
            return first ?? second;
        }

        foreach (var (tier, keys) in second._unanswered)
        {
            first.Add(tier, keys);
        }

        return first;
    }

    /// <summary>Splits items by whether their key's part of the tier answered.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="tier">The tier's index.</param>
    /// <param name="items">The items.</param>
    /// <param name="answered">Gets the items whose key's part of the tier answered.</param>
    /// <param name="unanswered">Gets the others.</param>
    /// <returns><see langword="false"/> when the tier's read did not answer in part (it failed whole, or did not fail).</returns>
    public bool TrySplit<T>(int tier, List<KeyValuePair<string, T>> items, out List<KeyValuePair<string, T>> answered, out List<KeyValuePair<string, T>> unanswered)
    {
        answered = unanswered = [];
        if (!_unanswered.TryGetValue(tier, out var keys))
        {
            return false;
        }

        answered = new List<KeyValuePair<string, T>>(items.Count);
        unanswered = new List<KeyValuePair<string, T>>(Math.Min(keys.Count, items.Count));
        foreach (var item in items)
        {
            (keys.Contains(item.Key) ? unanswered : answered).Add(item);
        }

        return true;
    }
}
