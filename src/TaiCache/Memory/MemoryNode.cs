using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TaiCache;

/// <summary>One entry of an <see cref="InMemoryTier"/>: the value, its expiry, and its place in the table and the policy's queues.</summary>
/// <remarks>
/// Laid out by hand so everything a hit reads (hash, hit counter, key, value, expiry) sits in the object's first 32
/// bytes, and kept at 72 bytes in all: a hit's cost is mostly the cache miss on its node, and the smaller the nodes, the
/// more of the hot ones stay in the CPU's caches. Tiers with a weigher or sliding expiry use
/// <see cref="ExtendedMemoryNode"/>, which adds the weight and the absolute expiry.
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
internal class MemoryNode
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

    /// <summary>When the entry last went to the window's head, on the window's coarse clock (see <c>InMemoryTier.WindowReads.cs</c>).</summary>
    [FieldOffset(6)]
    public ushort WindowStamp;

    /// <summary>The key.</summary>
    [FieldOffset(8)]
    public readonly string Key;

    /// <summary>The stored value (the object itself, or its serialized copy).</summary>
    [FieldOffset(16)]
    public readonly object? Value;

    /// <summary>When the entry stops being readable (timestamp of the tier's clock), or <see cref="NoExpiry"/>. Written racily by sliding reads.</summary>
    [FieldOffset(24)]
    public long ExpiresAt;

    /// <summary>The next node in the hash table's bucket (see <see cref="NodeTable"/>).</summary>
    [FieldOffset(32)]
    public MemoryNode? Chain;

    /// <summary>The neighbour toward the head (more recent) in the policy queue.</summary>
    [FieldOffset(40)]
    public MemoryNode? Prev;

    /// <summary>The neighbour toward the tail (less recent) in the policy queue.</summary>
    [FieldOffset(48)]
    public MemoryNode? Next;

    public MemoryNode(string key, int hash, object? value, long expiresAt)
    {
        Key = key;
        Hash = hash;
        Value = value;
        ExpiresAt = expiresAt;
    }

    /// <summary>Gets the entry's weight: 1 unless the tier has a weigher.</summary>
    public long Weight
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => this is ExtendedMemoryNode extended ? extended.EntryWeight : 1;
    }

    /// <summary>Gets the bound set by the time to live (sliding expiry never extends past it): <see cref="ExpiresAt"/> unless the tier slides.</summary>
    public long AbsoluteExpiresAt
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => this is ExtendedMemoryNode extended ? extended.AbsoluteExpiry : ExpiresAt;
    }
}
