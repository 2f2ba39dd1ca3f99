using TaiCache.Invalidation;

namespace TaiCache.Adapters;

/// <summary>
/// One <see cref="TaiCacheHybridCache.RemoveByTagAsync(string, CancellationToken)"/>: which of the keys the tag held
/// still carry it, by the tag lists kept beside the entries, and afterwards the cleanup of the entries it removed
/// (their tag lists, and their memberships of other tags) when nobody has written them again meanwhile.
/// </summary>
/// <param name="cache">The adapter's cache.</param>
/// <param name="tag">The tag as stored (the adapter's own tag for <c>*</c>).</param>
internal sealed class TagCarriers(Tiering.MultiTierCache cache, string tag)
{
    private readonly List<(string Key, string[]? Tags)> _removed = [];

    /// <summary>
    /// Picks the keys whose entry may still carry the tag, by the tag lists of the lowest tier that answers (one
    /// instance's L1 may hold an older list than Redis). A key whose list is gone, or that no tier can tell about, is
    /// picked: removing one too many beats keeping a tagged one.
    /// </summary>
    public async ValueTask<IReadOnlyCollection<string>> FindAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var list = keys.ToList();
        var lists = await ReadListsAsync(list, cancellationToken).ConfigureAwait(false);
        var carrying = new List<string>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            if (tag == TaiCacheHybridCache.AllTag || lists[i] is not { } tags || Array.IndexOf(tags, tag) >= 0)
            {
                carrying.Add(list[i]);
                _removed.Add((list[i], lists[i]));
            }
        }

        return carrying;
    }

    /// <summary>
    /// Forgets the removed entries' tag lists and their memberships of the other tags, so those do not keep removed
    /// keys; an entry written again since (its list changed, or its value is back) is left alone.
    /// </summary>
    public async ValueTask ForgetAsync(InvalidationManager manager, CancellationToken cancellationToken)
    {
        if (_removed.Count == 0)
        {
            return;
        }

        var keys = _removed.ConvertAll(r => r.Key);
        var now = await ReadListsAsync(keys, cancellationToken).ConfigureAwait(false);
        var forget = new List<(string Key, string[]? Tags)>(keys.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            if (SameList(now[i], _removed[i].Tags) && !await cache.ExistsAsync(keys[i], cancellationToken).ConfigureAwait(false))
            {
                forget.Add(_removed[i]);
            }
        }

        if (forget.Count == 0)
        {
            return;
        }

        await cache.DeleteManyAsync(forget.ConvertAll(r => TaiCacheHybridCache.TagsKey(r.Key)), cancellationToken).ConfigureAwait(false);
        var pending = new List<Task>(forget.Count);
        foreach (var (key, tags) in forget)
        {
            string[] others = [.. (tags ?? []).Append(TaiCacheHybridCache.AllTag).Where(t => t != tag)];
            pending.Add(manager.UntagAsync(key, others, cancellationToken).AsTask());
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    /// <summary>
    /// Each key's tag list as the lowest tier that answers holds it (the shared store: an instance's L1 may keep an
    /// older list than Redis); <see langword="null"/> where that tier has none, or when no tier answers.
    /// </summary>
    private ValueTask<string[]?[]> ReadListsAsync(List<string> keys, CancellationToken cancellationToken) => ReadListsAsync(cache, keys, cancellationToken);

    /// <summary>
    /// Each key's tag list as the lowest tier of <paramref name="cache"/> that answers holds it; <see langword="null"/>
    /// where that tier has none, or when no tier answers.
    /// </summary>
    internal static async ValueTask<string[]?[]> ReadListsAsync(Tiering.MultiTierCache cache, List<string> keys, CancellationToken cancellationToken)
    {
        var tagsKeys = keys.ConvertAll(TaiCacheHybridCache.TagsKey);
        var result = new string[]?[keys.Count];
        for (var t = cache.Tiers.Count - 1; t >= 0; t--)
        {
            IReadOnlyDictionary<string, string[]> held;
            try
            {
                held = await cache.Tiers[t].GetManyAsync<string[]>(tagsKeys, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                continue; // the tier above may answer
            }

            for (var i = 0; i < keys.Count; i++)
            {
                result[i] = held.TryGetValue(tagsKeys[i], out var tags) ? tags : null;
            }

            break;
        }

        return result;
    }

    internal static bool SameList(string[]? a, string[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}
