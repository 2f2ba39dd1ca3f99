namespace TaiCache;

/// <summary>
/// Everything an entry's node needs, worked out before the tier's lock is taken (value serialized, weight measured,
/// expiry computed), so that a batch write allocates a node only for the entries that are actually stored: a new
/// entry that loses TinyLFU admission is decided on its hash alone and never becomes a node.
/// </summary>
/// <param name="Key">The key.</param>
/// <param name="Hash">The key's hash in the tier's table.</param>
/// <param name="Value">The value to store (the object itself, or its serialized copy).</param>
/// <param name="Weight">The entry's weight: 1 unless the tier has a weigher.</param>
/// <param name="ExpiresAt">When the entry expires, in the tier's clock.</param>
/// <param name="AbsoluteExpiresAt">The bound set by the time to live (sliding expiry never extends past it).</param>
/// <param name="Extended">Whether the node must carry its weight and absolute expiry (a weigher or sliding expiry).</param>
internal readonly record struct NodeDraft(string Key, int Hash, object? Value, long Weight, long ExpiresAt, long AbsoluteExpiresAt, bool Extended)
{
    /// <summary>Allocates the node.</summary>
    public MemoryNode Build() => Extended
        ? new ExtendedMemoryNode(Key, Hash, Value, Weight, ExpiresAt, AbsoluteExpiresAt)
        : new MemoryNode(Key, Hash, Value, ExpiresAt);
}
