using TaiCache.Invalidation;

namespace TaiCache.Adapters;

/// <summary>
/// One <see cref="TaiCacheHybridCache.RemoveByTagAsync(string, CancellationToken)"/>: which of the keys the tag held
/// still carry it, by the tag lists kept beside the entries, and afterwards the cleanup of the entries it removed
/// (their tag lists, and their memberships of other tags).
/// </summary>
/// <param name="cache">The adapter's cache.</param>
/// <param name="tag">The tag as stored (the adapter's own tag for <c>*</c>).</param>
internal sealed class TagCarriers(Tiering.MultiTierCache cache, string tag)
{
    private readonly List<(string Key, string[]? Tags)> _removed = [];

    /// <summary>Picks the keys whose entry still carries the tag, or whose tag list is gone (expired, evicted, unreadable): removing one too many beats keeping a tagged one.</summary>
    public async ValueTask<IReadOnlyCollection<string>> FindAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var list = keys.ToList();
        IReadOnlyDictionary<string, string[]> owned;
        try
        {
            owned = await cache.GetManyAsync<string[]>(list.ConvertAll(TaiCacheHybridCache.TagsKey), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The tag has already let go of these keys: when the lists cannot be read, every one of them goes.
            _removed.AddRange(list.ConvertAll(k => (k, (string[]?)null)));
            return keys;
        }

        var carrying = new List<string>(list.Count);
        foreach (var key in list)
        {
            var known = owned.TryGetValue(TaiCacheHybridCache.TagsKey(key), out var tags);
            if (!known || tag == TaiCacheHybridCache.AllTag || Array.IndexOf(tags!, tag) >= 0)
            {
                carrying.Add(key);
                _removed.Add((key, known ? tags : null));
            }
        }

        return carrying;
    }

    /// <summary>Forgets the removed entries' tag lists and their memberships of the other tags, so those do not keep removed keys.</summary>
    public async ValueTask ForgetAsync(InvalidationManager manager, CancellationToken cancellationToken)
    {
        if (_removed.Count == 0)
        {
            return;
        }

        await cache.DeleteManyAsync(_removed.ConvertAll(r => TaiCacheHybridCache.TagsKey(r.Key)), cancellationToken).ConfigureAwait(false);
        var pending = new List<Task>(_removed.Count);
        foreach (var (key, tags) in _removed)
        {
            string[] others = [.. (tags ?? []).Append(TaiCacheHybridCache.AllTag).Where(t => t != tag)];
            pending.Add(manager.UntagAsync(key, others, cancellationToken).AsTask());
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }
}
