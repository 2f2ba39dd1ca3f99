namespace TaiCache.Invalidation;

/// <summary>One key an invalidation reached, and how.</summary>
public sealed class InvalidatedKey
{
    private readonly DependencyTraversal _traversal;
    private IReadOnlyList<string>? _path;

    internal InvalidatedKey(string key, DependencyTraversal traversal, int depth, int tiersAffected)
    {
        Key = key;
        _traversal = traversal;
        Depth = depth;
        TiersAffected = tiersAffected;
    }

    /// <summary>Gets the key.</summary>
    public string Key { get; }

    /// <summary>Gets the cascade path that reached the key: the key that triggered the invalidation first, this key last.</summary>
    /// <remarks>The path shares its links with the paths of the keys before it, so a receipt holds one link per key
    /// however deep the cascade went. Its keys are laid out only when read: enumerating costs O(<see cref="Depth"/>)
    /// and keeps nothing; indexing (other than the last key) lays the path out once and keeps it.</remarks>
    public IReadOnlyList<string> Path => _path ??= _traversal.GetPath(Key);

    /// <summary>Gets how many levels of dependency lie between the trigger and this key (0 for a key the trigger named).</summary>
    public int Depth { get; }

    /// <summary>
    /// Gets in how many tiers the key was present and was removed (<see cref="InvalidationStrategy.Eager"/>), was
    /// present and now expires within <see cref="InvalidationManagerOptions.ShortenedTtl"/>
    /// (<see cref="InvalidationStrategy.Ttl"/>: its time to live was shortened, or left alone because it was already
    /// shorter), or was present when it was marked stale
    /// (<see cref="InvalidationStrategy.Lazy"/>: the copies are left in place and dropped on the next read through the
    /// manager). 0 means the key was not cached in any tier that answered (a failed tier is named in
    /// <see cref="InvalidationReceipt.FailedTiers"/>).
    /// </summary>
    public int TiersAffected { get; }

    /// <inheritdoc />
    public override string ToString() => $"{TaiCacheDiagnostics.DescribeKey(Key)} (depth {Depth}, {TiersAffected} tier(s))";
}
