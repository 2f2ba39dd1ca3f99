using System.Numerics;
using System.Runtime.CompilerServices;

namespace TaiCache;

/// <summary>
/// Remembers the hashes of the last <see cref="Capacity"/> evicted keys (no keys, no values), answering "was this key
/// evicted lately?" as ARC's ghost lists do. Not thread safe: used under the tier's write lock.
/// </summary>
/// <remarks>
/// <para>
/// Each remembered hash is stamped with its position in the sequence of additions; a hash is a ghost while fewer than
/// <see cref="Capacity"/> additions came after it. So nothing is ever removed: an entry simply ages out, and adding
/// overwrites the oldest of the four slots of the hash's bucket. Every operation reads one bucket (32 bytes) with no
/// data-dependent probing, which matters because the tier pays for an addition and two lookups on each eviction (a
/// FIFO plus a dictionary of counts cost several times as much, mostly in mispredicted branches).
/// </para>
/// <para>
/// The table keeps four slots per remembered hash, so a ghost is pushed out early only when four later ones land in its
/// bucket within its lifetime (about 2% of ghosts). Such a lapse only makes the window adapt a little less: ghosts
/// steer the window's size, never which entries are kept.
/// </para>
/// </remarks>
internal sealed class GhostQueue
{
    private const int Ways = 4;
    private const int SlotsPerGhost = 4;
    private const int InitialSlots = 64;

    private long[] _slots = new long[InitialSlots];
    private int _shift = 32 - BitOperations.Log2(InitialSlots / Ways);
    private uint _stamp;
    private long _added;

    public GhostQueue(long capacity) => Capacity = (int)Math.Clamp(capacity, 1, 1 << 24);

    public int Capacity { get; private set; }

    /// <summary>Gets how many hashes are remembered (additions since the last clear, at most <see cref="Capacity"/>).</summary>
    public int Count => (int)Math.Min(_added, Capacity);

    public void Resize(long capacity) => Capacity = (int)Math.Clamp(capacity, 1, 1 << 24);

    public void Add(int hash)
    {
        _added++;
        if (Math.Min(_added, Capacity) * SlotsPerGhost > _slots.Length)
        {
            Grow();
        }

        // Stamp 0 marks an empty slot, so the stamp skips it when it wraps around.
        if (++_stamp == 0)
        {
            _stamp = 1;
        }

        Place(_slots, Bucket(hash), hash, _stamp);
    }

    public bool Contains(int hash)
    {
        var slots = _slots;
        var first = Bucket(hash);
        var found = false;
        for (var way = 0; way < Ways; way++)
        {
            found |= IsLive(slots[first + way], hash);
        }

        return found;
    }

    public void Clear()
    {
        Array.Clear(_slots);
        _added = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Entry(uint stamp, int hash) => ((long)stamp << 32) | (uint)hash;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint StampOf(long entry) => (uint)((ulong)entry >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsLive(long entry, int hash)
    {
        var stamp = StampOf(entry);
        return (int)entry == hash & stamp != 0 & _stamp - stamp < (uint)Capacity;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Bucket(int hash) => (int)(((uint)hash * 0x9E3779B9u) >> _shift) * Ways;

    /// <summary>Writes the hash into its bucket: over its own older stamp if there, else over the oldest (or an empty) slot.</summary>
    private static void Place(long[] slots, int first, int hash, uint stamp)
    {
        var target = first;
        var oldest = 0u;
        for (var way = first; way < first + Ways; way++)
        {
            var entry = slots[way];
            if ((int)entry == hash && StampOf(entry) != 0)
            {
                target = way;
                break;
            }

            // An empty slot (stamp 0) is older than any stamp, since its age is the whole count of additions.
            var age = stamp - StampOf(entry);
            if (age > oldest)
            {
                oldest = age;
                target = way;
            }
        }

        slots[target] = Entry(stamp, hash);
    }

    /// <summary>Doubles the table as ghosts accumulate (a tier that never evicts keeps it small), keeping the live ones.</summary>
    private void Grow()
    {
        var old = _slots;
        var wanted = (int)BitOperations.RoundUpToPowerOf2((uint)(Math.Min(_added, Capacity) * SlotsPerGhost));
        _slots = new long[Math.Max(wanted, old.Length * 2)];
        _shift = 32 - BitOperations.Log2((uint)(_slots.Length / Ways));

        // Oldest first, so a bucket that overflows keeps the youngest ghosts.
        var live = new List<long>(old.Length);
        foreach (var entry in old)
        {
            if (IsLive(entry, (int)entry))
            {
                live.Add(entry);
            }
        }

        live.Sort((a, b) => (_stamp - StampOf(b)).CompareTo(_stamp - StampOf(a)));
        foreach (var entry in live)
        {
            Place(_slots, Bucket((int)entry), (int)entry, StampOf(entry));
        }
    }
}
