namespace TaiCache;

/// <summary>
/// Everything an entry's node needs, worked out before the tier's lock is taken (value serialized, weight measured,
/// expiry computed), so that a batch write allocates a node only for the entries that are actually stored: a new
/// entry that loses TinyLFU admission is decided on its hash alone and never becomes a node.
/// </summary>
internal readonly struct NodeDraft
{
    public NodeDraft(string key, int hash, object? value, long weight, long expiresAt, long absoluteExpiresAt, bool extended)
    {
        Key = key;
        Hash = hash;
        Value = value;
        Weight = weight;
        ExpiresAt = expiresAt;
        AbsoluteExpiresAt = absoluteExpiresAt;
        Extended = extended;
    }

    public string Key { get; }

    public int Hash { get; }

    public object? Value { get; }

    /// <summary>The entry's weight: 1 unless the tier has a weigher.</summary>
    public long Weight { get; }

    public long ExpiresAt { get; }

    public long AbsoluteExpiresAt { get; }

    /// <summary>Whether the node must carry its weight and absolute expiry (a weigher or sliding expiry).</summary>
    public bool Extended { get; }

    /// <summary>Allocates the node.</summary>
    public MemoryNode Build() => Extended
        ? new ExtendedMemoryNode(Key, Hash, Value, Weight, ExpiresAt, AbsoluteExpiresAt)
        : new MemoryNode(Key, Hash, Value, ExpiresAt);
}
