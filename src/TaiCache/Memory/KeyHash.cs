using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TaiCache;

/// <summary>
/// The seeded hash a <see cref="NodeTable"/> gives its keys. Keys of up to 16 characters are hashed inline with wide
/// multiply-fold mixing against per-table random secrets (the construction XXH3 and wyhash use for short inputs);
/// longer keys go through <see cref="XxHash3"/> with a per-table seed.
/// </summary>
/// <remarks>
/// A hit on a large table is mostly waiting on cache misses, and how many lookups the CPU overlaps depends on how few
/// instructions each one takes: an inline hash with no call and no spilled registers measurably raises hit throughput
/// over calling <see cref="XxHash3"/> for every key.
/// </remarks>
internal readonly struct KeyHash
{
    // The length joins the hash after the mixing, multiplied out to every bit. XORed into the data it cancelled against
    // it: the low byte of a read is a character's, so "k1770" and "k17770" ('1' ^ 10 == '7' ^ 12) always collided.
    private const ulong LengthMultiplier = 0x9E3779B97F4A7C15UL;

    private readonly ulong _secret0;
    private readonly ulong _secret1;
    private readonly ulong _secret2;
    private readonly ulong _secret3;
    private readonly long _seed;

    public KeyHash(Random random)
    {
        _secret0 = (ulong)random.NextInt64() | 1;
        _secret1 = (ulong)random.NextInt64() | 1;
        _secret2 = (ulong)random.NextInt64() | 1;
        _secret3 = (ulong)random.NextInt64() | 1;
        _seed = random.NextInt64();
    }

    /// <summary>Hashes a key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Of(string key)
    {
        var length = (uint)key.Length * 2;
        ref var start = ref Unsafe.As<char, byte>(ref MemoryMarshal.GetReference(key.AsSpan()));
        ulong mixed;
        if (length - 17 < 16)
        {
            mixed = Mix(Read64(ref start, 0) ^ _secret0, Read64(ref start, 8) ^ _secret1)
                + Mix(Read64(ref start, length - 16) ^ _secret2, Read64(ref start, length - 8) ^ _secret3);
        }
        else if (length <= 16)
        {
            mixed = Short(ref start, length);
        }
        else
        {
            return Long(key);
        }

        mixed += length * LengthMultiplier;
        mixed ^= mixed >> 37;
        mixed *= 0x165667919E3779F9UL;
        mixed ^= mixed >> 32;
        return (int)mixed;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Short(ref byte start, uint length)
    {
        ulong low, high;
        if (length >= 8)
        {
            low = Read64(ref start, 0);
            high = Read64(ref start, length - 8);
        }
        else if (length >= 4)
        {
            low = Unsafe.ReadUnaligned<uint>(ref start);
            high = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, length - 4));
        }
        else
        {
            low = length == 0 ? 0UL : Unsafe.ReadUnaligned<ushort>(ref start);
            high = 0;
        }

        return Mix(low ^ _secret0, high ^ _secret1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int Long(string key) => (int)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(key.AsSpan()), _seed);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Read64(ref byte start, uint offset) => Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong left, ulong right)
    {
        var high = Math.BigMul(left, right, out var low);
        return high ^ low;
    }
}
