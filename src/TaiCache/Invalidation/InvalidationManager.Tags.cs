using TaiCache.Metrics;
using TaiCache.Serialization;

namespace TaiCache.Invalidation;

/// <summary>Tags: keys carry tags; invalidating a tag invalidates every key carrying it, and their dependents.</summary>
public sealed partial class InvalidationManager
{
    /// <summary>Adds tags to a key (in process, or in Redis sets shared by every instance).</summary>
    /// <param name="key">The key.</param>
    /// <param name="tags">The tags; the key rules apply (non-empty, no control characters, at most 1,024 UTF-8 bytes).</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns>A task that completes when the tags are recorded.</returns>
    /// <remarks>The membership never expires; prefer <see cref="TagAsync(string, IEnumerable{string}, TimeSpan?, CancellationToken)"/> with the value's time to live, so tags on values that expired are dropped.</remarks>
    public ValueTask TagAsync(string key, IEnumerable<string> tags, CancellationToken cancellationToken = default) =>
        TagAsync(key, tags, ttl: null, cancellationToken);

    /// <summary>
    /// Adds tags to a key for as long as its value lives: the store drops the membership once <paramref name="ttl"/>
    /// has passed, so tags on values that expired or were evicted do not pile up.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="tags">The tags; the key rules apply (non-empty, no control characters, at most 1,024 UTF-8 bytes).</param>
    /// <param name="ttl">The value's time to live (its longest, across tiers); <see langword="null"/> for a membership that never expires.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns>A task that completes when the tags are recorded.</returns>
    public ValueTask TagAsync(string key, IEnumerable<string> tags, TimeSpan? ttl, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(ttl);
        var list = CacheKeyRules.ValidateTags(tags);
        ThrowIfDisposed();
        Track(key);
        return list.Count == 0 ? ValueTask.CompletedTask : _store.AddTagsAsync(key, list, TagExpiry(ttl), cancellationToken);
    }

    /// <summary>When a membership added now for a value with <paramref name="ttl"/> ends (Unix ms; 0 for never).</summary>
    private long TagExpiry(TimeSpan? ttl) => CacheValueCodec.ExpiryFor(ttl, _time);

    /// <summary>Gets the keys currently carrying a tag.</summary>
    /// <param name="tag">The tag.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns>The keys.</returns>
    public ValueTask<IReadOnlyCollection<string>> GetTaggedKeysAsync(string tag, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.ValidateTag(tag);
        ThrowIfDisposed();
        return _store.GetTaggedKeysAsync(tag, cancellationToken);
    }

    /// <summary>Invalidates every key carrying a tag, and their dependents, with the default strategy. The tag is then empty.</summary>
    /// <param name="tag">The tag.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt.</returns>
    public ValueTask<InvalidationReceipt> InvalidateTagAsync(string tag, CancellationToken cancellationToken = default) =>
        InvalidateTagAsync(tag, _options.DefaultStrategy, cancellationToken);

    /// <summary>Invalidates every key carrying a tag, and their dependents. The tag is then empty.</summary>
    /// <param name="tag">The tag.</param>
    /// <param name="strategy">How to treat the keys reached.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt.</returns>
    public ValueTask<InvalidationReceipt> InvalidateTagAsync(string tag, InvalidationStrategy strategy, CancellationToken cancellationToken = default) =>
        InvalidateTagAsync(tag, strategy, carriers: null, cancellationToken);

    /// <summary>Removes a key from tags it no longer carries (its value was overwritten or removed); a tag it was not in is left alone.</summary>
    internal ValueTask UntagAsync(string key, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return tags.Count == 0 ? ValueTask.CompletedTask : _store.RemoveTagsAsync(key, tags, cancellationToken);
    }

    /// <summary>
    /// Invalidates the keys a tag held, or, with <paramref name="carriers"/>, only those it says still carry the tag
    /// (the HybridCache adapter's entries own their tags: an entry overwritten without the tag is left alone).
    /// </summary>
    internal async ValueTask<InvalidationReceipt> InvalidateTagAsync(string tag, InvalidationStrategy strategy, Func<IReadOnlyCollection<string>, CancellationToken, ValueTask<IReadOnlyCollection<string>>>? carriers, CancellationToken cancellationToken)
    {
        CacheKeyRules.ValidateTag(tag);
        CheckStrategy(strategy);
        ThrowIfDisposed();
        using var activity = StartInvalidateActivity(InvalidationTrigger.Tag, strategy);
        try
        {
            // Taking the tag's keys empties it: from then on the invalidation runs to the end, uncancelled, or the keys
            // would stay cached with no tag left to reach them.
            cancellationToken.ThrowIfCancellationRequested();
            var keys = await _store.TakeTaggedKeysAsync(tag, CancellationToken.None).ConfigureAwait(false);
            if (carriers is not null && keys.Count > 0)
            {
                keys = await carriers(keys, CancellationToken.None).ConfigureAwait(false);
            }

            var receipt = await RunAsync(InvalidationTrigger.Tag, tag, keys, strategy, clearInMemoryTiers: false, CancellationToken.None).ConfigureAwait(false);
            TraceReceipt(activity, receipt);
            return receipt;
        }
        catch (Exception e)
        {
            TaiCacheTelemetry.SetError(activity, e);
            throw;
        }
    }
}
