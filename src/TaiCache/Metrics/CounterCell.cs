namespace TaiCache.Metrics;

/// <summary>
/// One thread's counters for one collector. Only its thread writes it (plain increments, no lock prefix), so counts
/// are exact; snapshots read every cell. The padded <see cref="CounterStripe"/> keeps cells of different threads off
/// each other's cache lines.
/// </summary>
internal sealed class CounterCell
{
    /// <summary>Initializes a cell for a collector.</summary>
    /// <param name="ownerId">The collector's id (an id, not a reference, so a thread's cache never keeps a collector alive).</param>
    public CounterCell(long ownerId) => OwnerId = ownerId;

    /// <summary>The owning collector's id.</summary>
    public readonly long OwnerId;

    /// <summary>The counters, padded to their own cache lines.</summary>
    public CounterStripe Counters;
}
