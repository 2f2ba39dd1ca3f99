namespace TaiCache;

/// <summary>One entry of an <see cref="InMemoryTier"/>: the value, its expiry, and its place in the policy's queues.</summary>
internal sealed class MemoryNode
{
    /// <summary>No expiry.</summary>
    public const long NoExpiry = long.MaxValue;

    /// <summary>The most a hit counter counts before it stops being written (keeps hot entries' cache lines clean).</summary>
    public const byte MaxHits = 15;

    public MemoryNode(string key, int hash, object? value, long weight, long expiresAt, long absoluteExpiresAt)
    {
        Key = key;
        Hash = hash;
        Value = value;
        Weight = weight;
        ExpiresAt = expiresAt;
        AbsoluteExpiresAt = absoluteExpiresAt;
    }

    public string Key { get; }

    public object? Value { get; }

    public int Hash { get; }

    public long Weight { get; }

    /// <summary>When the entry stops being readable (timestamp of the tier's clock), or <see cref="NoExpiry"/>. Written racily by sliding reads.</summary>
    public long ExpiresAt;

    /// <summary>The bound set by the time to live; sliding expiry never extends past it.</summary>
    public long AbsoluteExpiresAt;

    /// <summary>Reads since the policy last looked at the entry (saturating, written racily without interlocking).</summary>
    public byte Hits;

    /// <summary>The queue holding the entry.</summary>
    public NodeQueue Queue;

    public MemoryNode? Prev;

    public MemoryNode? Next;
}
