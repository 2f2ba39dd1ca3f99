namespace TaiCache.Tiering;

/// <summary>
/// Write-through sets and deletes under way, counted per stripe of keys, so an eager refresh does not overwrite one
/// that began before the refresh did (see <see cref="BeginRefreshStore"/>).
/// </summary>
/// <remarks>
/// A write that begins while a refresh of its key stores waits for that store (<see cref="SupersedeGate"/>); one that
/// began earlier, and reaches L1 after the refresh's store, was not seen by either check: its L2 write may have been
/// sent first, so the refresh's would replace it there. The writer counts itself in before it looks for a refresh to
/// supersede, and the refresh looks at the count after it has begun its store (a full fence each side): one of the two
/// sees the other. A stripe shared with another key's write drops a refresh that the next read in the window retries.
/// </remarks>
public sealed partial class MultiTierCache
{
    private const int WriteStripes = 1024;

    private readonly int[] _writesUnderWay = new int[WriteStripes];

    /// <summary>Counts a write-through of the key in; returns its stripe for <see cref="EndWrite"/> (-1 under write-behind, which counts nothing).</summary>
    private int BeginWrite(string key)
    {
        if (_writeBehind is not null)
        {
            return -1; // the set reaches L1 before it returns: L1's write marks tell a refresh about it
        }

        var stripe = WriteStripeOf(key);
        Interlocked.Increment(ref _writesUnderWay[stripe]);
        return stripe;
    }

    /// <summary>Counts a write-through out (nothing for -1).</summary>
    private void EndWrite(int stripe)
    {
        if (stripe >= 0)
        {
            Interlocked.Decrement(ref _writesUnderWay[stripe]);
        }
    }

    /// <summary>Counts a batch's writes in (see <see cref="BeginWrite"/>); null under write-behind.</summary>
    private int[]? BeginWrites<TItem>(List<TItem> items, Func<TItem, string> keyOf)
    {
        if (_writeBehind is not null)
        {
            return null;
        }

        var stripes = new int[items.Count];
        for (var i = 0; i < stripes.Length; i++)
        {
            stripes[i] = BeginWrite(keyOf(items[i]));
        }

        return stripes;
    }

    /// <summary>Counts a batch's writes out.</summary>
    private void EndWrites(int[]? stripes)
    {
        foreach (var stripe in stripes ?? [])
        {
            EndWrite(stripe);
        }
    }

    private static int WriteStripeOf(string key) => (int)((uint)key.GetHashCode() % WriteStripes);

    /// <summary>
    /// Begins an eager refresh's store of a key, unless a write of the key came since the refresh began (L1's write
    /// marks), superseded it, or is under way, or the coherence cannot vouch for hearing the peers' writes now (its
    /// subscription down, unconfirmed or silent: a peer's write would not supersede the refresh, whose plain set would
    /// replace it; a refresh begun before a gap is caught by the clear's marks); complete the source returned once the
    /// store has finished.
    /// </summary>
    private TaskCompletionSource? BeginRefreshStore(ISupersedable flight, string key, long l1Mark)
    {
        if (_options.Coherence is { CopiesAtRisk: true } || WrittenSince(key, l1Mark) || flight.TryBeginStore() is not { } storing)
        {
            return null;
        }

        if (WriteUnderWay(key))
        {
            storing.TrySetResult(); // a write waiting for it goes on
            return null;
        }

        return storing;
    }

    /// <summary>Whether a write-through of the key (or of another key of its stripe) is under way.</summary>
    private bool WriteUnderWay(string key) => Volatile.Read(ref _writesUnderWay[WriteStripeOf(key)]) != 0;

    /// <summary>
    /// Whether a value read from a lower tier since <paramref name="l1Mark"/> must go no higher: a write of the key came
    /// since (L1's marks), superseded the key's load, or is under way. Copied into a tier above, an older value could
    /// bring back a key just deleted, or hide a newer value there.
    /// </summary>
    private bool CopyOutdated(string key, long l1Mark) => WrittenSince(key, l1Mark) || IsLoadSuperseded(key) || WriteUnderWay(key);
}
