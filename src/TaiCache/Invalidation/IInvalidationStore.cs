namespace TaiCache.Invalidation;

/// <summary>Where an <see cref="InvalidationManager"/> keeps dependency edges and tag membership: in process, or in Redis sets shared by every instance.</summary>
internal interface IInvalidationStore
{
    /// <summary>Gets a short description for logs (<c>memory</c>, <c>redis</c>).</summary>
    string Kind { get; }

    ValueTask<bool> AddDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken);

    ValueTask<bool> RemoveDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken);

    /// <summary>Removes every edge into and out of a key.</summary>
    ValueTask RemoveKeyAsync(string key, CancellationToken cancellationToken);

    /// <summary>Feeds the walker every level of dependents until it stops.</summary>
    ValueTask WalkAsync(CascadeWalker walker, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a key to tags until <paramref name="expiresAtUnixMs"/> (the value's expiry; 0 for none): a membership past
    /// it is dropped by the store, so tags on values that expired or were evicted do not pile up.
    /// </summary>
    ValueTask AddTagsAsync(string key, IReadOnlyCollection<string> tags, long expiresAtUnixMs, CancellationToken cancellationToken);

    /// <summary>Removes a key from tags (a value overwritten or removed without them); a tag it was not in is left alone.</summary>
    ValueTask RemoveTagsAsync(string key, IReadOnlyCollection<string> tags, CancellationToken cancellationToken);

    ValueTask<IReadOnlyCollection<string>> GetTaggedKeysAsync(string tag, CancellationToken cancellationToken);

    /// <summary>
    /// Reads and forgets a tag's keys in one atomic step, so a key tagged meanwhile is kept for the next invalidation.
    /// Only live memberships are returned (those <see cref="GetTaggedKeysAsync"/> lists); expired ones are dropped.
    /// </summary>
    ValueTask<IReadOnlyCollection<string>> TakeTaggedKeysAsync(string tag, CancellationToken cancellationToken);
}
