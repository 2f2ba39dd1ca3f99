using System.Numerics;
using System.Runtime.CompilerServices;

namespace TaiCache;

/// <summary>
/// A count-min sketch of 4-bit counters estimating how often a key was seen recently (the TinyLFU "popularity"),
/// with periodic halving so old popularity fades. Not thread safe: used under the tier's write lock.
/// </summary>
internal sealed class FrequencySketch
{
    private const long ResetMask = 0x7777777777777777L;
    private static readonly ulong[] Seeds = [0xc3a5c85c97cb3127UL, 0xb492b66fbe98f273UL, 0x9ae16a3b2f90404fUL, 0xcbf29ce484222325UL];

    private long[] _table = [];
    private int _mask;
    private int _sampleSize;
    private int _additions;

    public FrequencySketch(long expectedEntries) => EnsureCapacity(expectedEntries);

    /// <summary>Gets the number of counters' slots (a power of two).</summary>
    public int Capacity => _table.Length;

    /// <summary>Grows the table so it suits about <paramref name="entries"/> distinct keys (forgets the counts when it grows).</summary>
    public void EnsureCapacity(long entries)
    {
        var wanted = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(entries, 16, 1 << 24));
        if (wanted <= _table.Length)
        {
            return;
        }

        _table = new long[wanted];
        _mask = wanted - 1;
        _sampleSize = 10 * wanted;
        _additions = 0;
    }

    /// <summary>Estimates how often the key was seen (0..15).</summary>
    public int Frequency(int hash)
    {
        var h = Spread(hash);
        var start = (int)(h & 3) << 2;
        var min = 15;
        for (var i = 0; i < 4; i++)
        {
            var index = IndexOf(h, i);
            var shift = (start + i) << 2;
            var count = (int)((ulong)_table[index] >> shift) & 0xF;
            min = Math.Min(min, count);
        }

        return min;
    }

    /// <summary>Counts <paramref name="times"/> sightings of the key.</summary>
    /// <returns>The key's estimated frequency after counting (0..15), as <see cref="Frequency"/> would tell before any halving.</returns>
    public int Increment(int hash, int times = 1)
    {
        var h = Spread(hash);
        var start = (int)(h & 3) << 2;
        var added = false;
        var min = 15;
        for (var i = 0; i < 4; i++)
        {
            var index = IndexOf(h, i);
            var shift = (start + i) << 2;
            var count = (int)((ulong)_table[index] >> shift) & 0xF;
            if (count < 15)
            {
                count = Math.Min(15, count + times);
                _table[index] = (_table[index] & ~(0xFL << shift)) | ((long)count << shift);
                added = true;
            }

            min = Math.Min(min, count);
        }

        if (added && (_additions += times) >= _sampleSize)
        {
            Halve();
            min >>= 1;
        }

        return min;
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        Array.Clear(_table);
        _additions = 0;
    }

    private void Halve()
    {
        for (var i = 0; i < _table.Length; i++)
        {
            _table[i] = (_table[i] >>> 1) & ResetMask;
        }

        _additions /= 2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int IndexOf(ulong h, int i)
    {
        var x = (h + Seeds[i]) * Seeds[i];
        x += x >> 32;
        return (int)x & _mask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Spread(int hash)
    {
        var x = (ulong)(uint)hash * 0x9E3779B97F4A7C15UL;
        return x ^ (x >> 29);
    }
}
