using System.Runtime.CompilerServices;

namespace TaiCache;

/// <summary>
/// Window reads: hits on window entries, noted without the lock and replayed by the next write, so the window is kept
/// in the order of reads (LRU) rather than the order in which its CLOCK hand met them.
/// </summary>
/// <remarks>
/// <para>
/// With CLOCK alone, an entry read deep in the window moves to the head only when it reaches the tail, up to a window's
/// worth of insertions later; every entry inserted meanwhile ends up behind it, older in the queue than an entry last
/// read before it came. When popularity is recency and the window holds nearly the whole tier, that costs the newest
/// entries their place: an LRU stack model whose re-requests come at depths of 90-100% of the capacity hit 66.6% of the
/// time against LRU's 80.0% (a plain CLOCK of the same size: 70.0%); with reads replayed, 73.8%, and 78.6% once the
/// window may also take the whole tier (see <c>MaximumWindowShare</c>).
/// </para>
/// <para>
/// A hit on a window entry writes the node into the slot its hash picks (unless already there) and raises a flag
/// (unless already raised); the next write under the lock, when the flag is up, empties the slots, moving each entry
/// still in the window, and more than half a window deep, to its head (folding its hits into the sketch). A younger
/// entry is left to CLOCK: its second chance at the tail is what a feed (each key hottest when new) needs, and moving
/// every read entry cost the generated <c>slide</c> workload a point at 5,000 entries.
/// </para>
/// <para>
/// Lossy by design: two entries read between writes whose hashes pick the same slot keep only the later, and the
/// earlier falls back on CLOCK's second chance (its hit count still says it was read). Hits on main's entries (most
/// hits, with the usual 1% window) write nothing more than before. The slots' order is not the reads' order, which
/// only matters among entries read between the same two writes. The slots hold at most 32 entries that may have left
/// the tier, until the next write (a clear empties them).
/// </para>
/// </remarks>
public sealed partial class InMemoryTier
{
    private const int WindowReadSlots = 32;

    private readonly MemoryNode?[] _windowReads = new MemoryNode?[WindowReadSlots];
    private bool _windowReadsPending;
    private long _windowClock;
    private int _windowStampShift;

    /// <summary>Notes a hit on a window entry (lock-free, racy, lossy: see the type's remarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteWindowRead(MemoryNode node)
    {
        ref var slot = ref _windowReads[node.Hash & (WindowReadSlots - 1)];
        if (!ReferenceEquals(slot, node))
        {
            slot = node;
        }

        if (!_windowReadsPending)
        {
            _windowReadsPending = true;
        }
    }

    /// <summary>Moves the window entries read since the last write to the window's head, folding their hits (under the lock).</summary>
    private void ReplayWindowReads()
    {
        if (!Volatile.Read(ref _windowReadsPending))
        {
            return;
        }

        _windowReadsPending = false;
        var slots = _windowReads;
        for (var i = 0; i < slots.Length; i++)
        {
            var node = slots[i];
            if (node is null)
            {
                continue;
            }

            slots[i] = null;
            if (node.Queue == NodeQueue.Window && IsDeepInWindow(node))
            {
                Fold(node);
                MoveTo(node, _window, NodeQueue.Window);
            }
        }
    }

    /// <summary>Notes the window's clock on an entry going to the window's head.</summary>
    private void StampWindowEntry(MemoryNode node) => node.WindowStamp = (ushort)(++_windowClock >> _windowStampShift);

    /// <summary>Whether more entries went to the window's head since this one did than half the window holds.</summary>
    private bool IsDeepInWindow(MemoryNode node)
    {
        var since = (long)(ushort)((ushort)(_windowClock >> _windowStampShift) - node.WindowStamp) << _windowStampShift;
        return since * 2 > _window.Count;
    }

    /// <summary>Forgets the noted reads (the tier was cleared), so the slots hold no entry that left.</summary>
    private void ForgetWindowReads()
    {
        Array.Clear(_windowReads);
        _windowReadsPending = false;
    }
}
