namespace TaiCache.Metrics;

/// <summary>
/// One thread's counters for one collector. Only its thread writes it (plain increments, no lock prefix), so counts
/// are exact; snapshots read every cell. A thread may own several cells of a collector (one per stack page it records
/// from, plus one found through its thread statics); a cell never has two writers at once. The padded <see cref="CounterStripe"/> keeps cells of different threads off
/// each other's cache lines.
/// </summary>
internal sealed class CounterCell
{
    /// <summary>Initializes a cell for a collector.</summary>
    /// <param name="ownerId">The collector's id (an id, not a reference, so a thread's cache never keeps a collector alive).</param>
    /// <param name="stackPage">The stack page whose thread writes the cell, or 0 for a cell found through the thread's statics.</param>
    public CounterCell(long ownerId, nuint stackPage = 0)
    {
        OwnerId = ownerId;
        StackPage = stackPage;
    }

    /// <summary>
    /// The cell in a stack-page slot nobody has claimed: its page (all ones) is never a stack page, so the hot path's
    /// page comparison fails without a null check. Nothing is ever counted in it.
    /// </summary>
    public static readonly CounterCell Vacant = new(0, nuint.MaxValue);

    /// <summary>The owning collector's id.</summary>
    public readonly long OwnerId;

    /// <summary>The 4 KiB stack page that identifies the writing thread (see <c>MetricsCollector.Stripe</c>), or 0.</summary>
    public readonly nuint StackPage;

    /// <summary>The counters, padded to their own cache lines.</summary>
    public CounterStripe Counters;
}
