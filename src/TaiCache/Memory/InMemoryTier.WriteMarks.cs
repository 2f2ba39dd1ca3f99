using System.Buffers;

namespace TaiCache;

/// <summary>
/// Write marks: which keys were written (set, removed, expired, cleared) since a moment, so an owner that copies a value
/// read from a slower tier into this one does not store it over a write that landed while the read ran.
/// </summary>
/// <remarks>
/// Every write takes the next number of a sequence and records it for the key's stripe (a few keys share one; a shared
/// stripe only costs a skipped copy). A copy names the sequence it read before its slower read (<see cref="WriteMark"/>)
/// and is stored, under the same lock as the writes, only if its key's stripe has not moved past it. So a write either
/// lands after the copy (and replaces it) or before (and the copy is dropped): L1 never keeps an older value than a
/// write made, or a removal that a peer's invalidation made, while the copy was on its way.
/// <para>
/// A stripe that moved is then checked against the last <see cref="RecentWrites"/> writes, which are kept by key: a
/// neighbour's write in the stripe does not count as the key's own. Only when more writes than that came since the
/// mark (or a clear) is the stripe's word taken. Without it, a write of any of the few keys sharing the stripe dropped
/// the copy, and a multi-tier load dropped its factory's value from every tier, with a chance that grows with the
/// writes made while it ran (the cache's own writes of other keys count: a HybridCache adapter's tag list did).
/// </para>
/// </remarks>
public sealed partial class InMemoryTier
{
    /// <summary>How many of the newest writes are kept by key, for telling a key's own write from a neighbour's in its stripe.</summary>
    private const int RecentWrites = 1024;

    private readonly long[] _stripeWrites;
    private readonly RecentWrite[] _recentWrites = new RecentWrite[RecentWrites];
    private long _writeSequence;
    private long _clearedAt;

    /// <summary>Gets the sequence number of the newest write, read before a slower tier is read for a copy into this one.</summary>
    internal long WriteMark => Volatile.Read(ref _writeSequence);

    /// <summary>Tells whether the key may have been written since <paramref name="mark"/>: lock-free when neither its
    /// stripe nor a clear moved past it; else, under the lock, whether a write since was the key's own (see the remarks).</summary>
    internal bool WrittenSince(string key, long mark)
    {
        var hash = _map.Hash(key);
        if (Volatile.Read(ref _stripeWrites[Stripe(hash)]) <= mark && Volatile.Read(ref _clearedAt) <= mark)
        {
            return false;
        }

        lock (_sync)
        {
            return WrittenSinceLocked(key, hash, mark);
        }
    }

    /// <summary>Gets the write stripe the key is recorded in (keys in one stripe are written together, as far as copies go).</summary>
    internal int WriteStripeOf(string key) => Stripe(_map.Hash(key));

    /// <summary>Stores a copy of a value read elsewhere since <paramref name="mark"/>, unless the key was written meanwhile.</summary>
    /// <returns>Whether the copy was stored.</returns>
    internal bool Fill<T>(string key, T value, TimeSpan? ttl, long mark)
    {
        var node = CreateNode(key, value, ttl, now: 0);
        List<CacheEvictionEventArgs>? events = null;
        lock (_sync)
        {
            if (WrittenSinceLocked(node.Key, node.Hash, mark))
            {
                return false;
            }

            Write(node, ref events);
        }

        _metrics?.RecordSet();
        ReportSize();
        Raise(events);
        return true;
    }

    /// <summary>
    /// Stores a set whose lower tiers were written first, since <paramref name="mark"/>. When the key was written here
    /// meanwhile (a peer's invalidation, a resynchronization, another set or a delete of the key), the key is removed
    /// instead: which of the writes the lower tiers hold last is not known here, and a miss reads it from them, where a
    /// copy of this one could hide a newer value until it expired.
    /// </summary>
    /// <returns>Whether the value was stored.</returns>
    internal bool SetUnlessWrittenSince<T>(string key, T value, TimeSpan? ttl, long mark)
    {
        var node = CreateNode(key, value, ttl, now: 0);
        List<CacheEvictionEventArgs>? events = null;
        bool stored;
        lock (_sync)
        {
            stored = !WrittenSinceLocked(node.Key, node.Hash, mark);
            MarkWritten(node.Key, node.Hash);
            if (stored)
            {
                Write(node, ref events);
            }
            else if (_map.TryGetValue(key, out var held))
            {
                DropAndPublish(held, IsLive(held) ? EvictionReason.Removed : EvictionReason.Expired, ref events);
            }
        }

        if (stored)
        {
            _metrics?.RecordSet();
        }

        ReportSize();
        Raise(events);
        return stored;
    }

    /// <summary>About one stripe per four entries the tier holds, 1,024 to 65,536 of them (8 bytes each: 8 KiB for a small
    /// tier, so a write there rarely drops an unrelated key's copy).</summary>
    private static int StripesFor(long entries) => (int)Math.Clamp(System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, entries / 4)), 1_024, 65_536);

    /// <summary>Records a write of the key, whose hash this is (under the lock).</summary>
    private void MarkWritten(string key, int hash)
    {
        var sequence = _writeSequence + 1;
        _stripeWrites[Stripe(hash)] = sequence;
        _recentWrites[(int)(sequence & (RecentWrites - 1))] = new RecentWrite(sequence, hash, key);
        Volatile.Write(ref _writeSequence, sequence);
    }

    /// <summary>Records that every key was written (a clear; under the lock).</summary>
    private void MarkCleared()
    {
        var sequence = _writeSequence + 1;
        Volatile.Write(ref _clearedAt, sequence);
        Volatile.Write(ref _writeSequence, sequence);
    }

    /// <summary>Tells whether the key may have been written since <paramref name="mark"/> (under the lock): its stripe moved
    /// and one of the writes since was the key's, or too many came to tell, or a clear.</summary>
    private bool WrittenSinceLocked(string key, int hash, long mark)
    {
        if (_clearedAt > mark)
        {
            return true;
        }

        if (_stripeWrites[Stripe(hash)] <= mark)
        {
            return false;
        }

        if (_writeSequence - mark > RecentWrites)
        {
            return true; // the writes kept by key do not reach back to the mark
        }

        for (var sequence = mark + 1; sequence <= _writeSequence; sequence++)
        {
            var write = _recentWrites[(int)(sequence & (RecentWrites - 1))];
            if (write.Sequence != sequence || (write.Hash == hash && string.Equals(write.Key, key, StringComparison.Ordinal)))
            {
                return true; // the key's own write (or a sequence number that went to a clear)
            }
        }

        return false;
    }

    private int Stripe(int hash) => hash & (_stripeWrites.Length - 1);

    /// <summary>Records writes of a batch's keys (under the lock).</summary>
    private void MarkWritten(ReadOnlySpan<NodeDraft> drafts)
    {
        foreach (ref readonly var draft in drafts)
        {
            MarkWritten(draft.Key, draft.Hash);
        }
    }

    /// <summary>Moves to the front the drafts whose keys were not written since <paramref name="mark"/> (under the lock).</summary>
    /// <returns>How many there are.</returns>
    private int KeepUnwritten(Span<NodeDraft> drafts, long mark)
    {
        var kept = 0;
        for (var i = 0; i < drafts.Length; i++)
        {
            if (!WrittenSinceLocked(drafts[i].Key, drafts[i].Hash, mark))
            {
                drafts[kept++] = drafts[i];
            }
        }

        return kept;
    }

    /// <summary>Copies values read elsewhere since <paramref name="mark"/> under one acquisition of the lock, except the keys written meanwhile.</summary>
    internal void FillMany<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl, long mark)
    {
        var now = BatchClock(ttl);
        var drafts = ArrayPool<NodeDraft>.Shared.Rent(items.Count);
        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                drafts[i] = DraftNode(items[i].Key, items[i].Value, ttl, now);
            }

            WriteBatch(drafts.AsSpan(0, items.Count), mark);
        }
        finally
        {
            ArrayPool<NodeDraft>.Shared.Return(drafts, clearArray: true);
        }
    }

    /// <summary>One write kept by key: its sequence number, the key's hash and the key.</summary>
    private readonly record struct RecentWrite(long Sequence, int Hash, string Key);
}
