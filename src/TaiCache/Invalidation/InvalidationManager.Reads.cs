namespace TaiCache.Invalidation;

/// <summary>Reads and writes through the manager: reads honour <see cref="InvalidationStrategy.Lazy"/> stale marks, writes clear them and record tags.</summary>
public sealed partial class InvalidationManager
{
    /// <summary>Reads a key from the first tier that has it, treating a key marked stale (<see cref="InvalidationStrategy.Lazy"/>) as missing and removing it then.</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A hit, or a miss (also for a stale key).</returns>
    public async ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        ThrowIfDisposed();
        if (_stale.Unmark(key))
        {
            await RemoveStaleAsync(key, cancellationToken).ConfigureAwait(false);
            return CacheResult<T>.Miss;
        }

        foreach (var tier in _tiers)
        {
            var result = await tier.GetAsync<T>(key, cancellationToken).ConfigureAwait(false);
            if (result.HasValue)
            {
                return result;
            }
        }

        return CacheResult<T>.Miss;
    }

    /// <summary>
    /// Removes a key a lazy invalidation marked stale from every tier, last tier first. A tier that fails (logged) does
    /// not stop the others, since the nearest tier must lose the stale value whatever the tiers below do, and the key is
    /// marked stale again: the next read tries the removal once more, and reads the key as a miss meanwhile. A
    /// cancellation stops the removal and leaves the key marked.
    /// </summary>
    private async ValueTask RemoveStaleAsync(string key, CancellationToken cancellationToken)
    {
        var removed = true;
        try
        {
            for (var t = _tiers.Length - 1; t >= 0; t--)
            {
                try
                {
                    await _tiers[t].DeleteAsync(key, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Log.TierFailed(_logger, e, Guid.Empty, _tiers[t].Name, 1);
                    removed = false;
                }
            }
        }
        catch (OperationCanceledException)
        {
            removed = false;
            throw;
        }
        finally
        {
            if (removed)
            {
                _tracker.Remove(key);
            }
            else
            {
                _stale.TryMark(key, int.MaxValue);
            }
        }
    }

    /// <summary>Tells whether a key is marked stale by a <see cref="InvalidationStrategy.Lazy"/> invalidation and not yet read or rewritten.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when the key is marked.</returns>
    public bool IsStale(string key)
    {
        CacheKeyRules.Validate(key);
        return _stale.IsMarked(key);
    }

    /// <summary>Writes a value to every tier (last tier first), clears any stale mark, and records tags.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for each tier's default.</param>
    /// <param name="tags">Tags for the key; <see langword="null"/> for none.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when every tier has the value.</returns>
    public async ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(ttl);
        var tagList = tags is null ? null : CacheKeyRules.ValidateTags(tags);
        ThrowIfDisposed();

        // Tag before writing, so a tag invalidation racing the write cannot miss the new value; tag again after, so
        // an invalidation that emptied the tag in between leaves the new value tagged for the next one.
        if (tagList is { Count: > 0 })
        {
            await _store.AddTagsAsync(key, tagList, TagExpiry(ttl), cancellationToken).ConfigureAwait(false);
        }

        for (var t = _tiers.Length - 1; t >= 0; t--)
        {
            await _tiers[t].SetAsync(key, value, ttl, cancellationToken).ConfigureAwait(false);
        }

        // Track after writing: replacing an expired entry raises an Expired eviction for this key, which untracks it.
        Track(key);
        _stale.Unmark(key);
        if (tagList is { Count: > 0 })
        {
            await _store.AddTagsAsync(key, tagList, TagExpiry(ttl), cancellationToken).ConfigureAwait(false);
        }
    }
}
