using System.Runtime.InteropServices;

namespace TaiCache;

/// <summary>One entry of an <see cref="InMemoryTier"/>: the value, its expiry, and its place in the table and the policy's queues.</summary>
/// <remarks>Laid out by hand so everything a hit reads (hash, hit counter, key, value, expiry, chain link) sits in the object's first 48 bytes.</remarks>
[StructLayout(LayoutKind.Explicit)]
internal sealed class MemoryNode
{
    /// <summary>No expiry.</summary>
    public const long NoExpiry = long.MaxValue;

    /// <summary>The most a hit counter counts before it stops being written (keeps hot entries' cache lines clean).</summary>
    public const byte MaxHits = 15;

    /// <summary>The key's hash (seeded per table).</summary>
    [FieldOffset(0)]
    public readonly int Hash;

    /// <summary>Reads since the policy last looked at the entry (saturating, written racily without interlocking).</summary>
    [FieldOffset(4)]
    public byte Hits;

    /// <summary>The queue holding the entry.</summary>
    [FieldOffset(5)]
    public NodeQueue Queue;

    /// <summary>The key.</summary>
    [FieldOffset(8)]
    public readonly string Key;

    /// <summary>The stored value (the object itself, or its serialized copy).</summary>
    [FieldOffset(16)]
    public readonly object? Value;

    /// <summary>When the entry stops being readable (timestamp of the tier's clock), or <see cref="NoExpiry"/>. Written racily by sliding reads.</summary>
    [FieldOffset(24)]
    public long ExpiresAt;

    /// <summary>The next node in the hash table's bucket, for the table generation 0 (see <see cref="NodeTable"/>).</summary>
    [FieldOffset(32)]
    public MemoryNode? Chain0;

    /// <summary>The next node in the hash table's bucket, for the table generation 1.</summary>
    [FieldOffset(40)]
    public MemoryNode? Chain1;

    /// <summary>The neighbour toward the head (more recent) in the policy queue.</summary>
    [FieldOffset(48)]
    public MemoryNode? Prev;

    /// <summary>The neighbour toward the tail (less recent) in the policy queue.</summary>
    [FieldOffset(56)]
    public MemoryNode? Next;

    /// <summary>The entry's weight (1 without a weigher).</summary>
    [FieldOffset(64)]
    public readonly long Weight;

    /// <summary>The bound set by the time to live; sliding expiry never extends past it.</summary>
    [FieldOffset(72)]
    public long AbsoluteExpiresAt;

    public MemoryNode(string key, int hash, object? value, long weight, long expiresAt, long absoluteExpiresAt)
    {
        Key = key;
        Hash = hash;
        Value = value;
        Weight = weight;
        ExpiresAt = expiresAt;
        AbsoluteExpiresAt = absoluteExpiresAt;
    }
}
