namespace TaiCache.Tiering;

/// <summary>What <see cref="MultiTierCache.FlushAsync(CancellationToken)"/> achieved before its deadline.</summary>
/// <param name="Completed">Whether every write queued before the flush reached every tier (or the dead-letter sink).</param>
/// <param name="Written">Queued writes that reached every tier while the flush waited.</param>
/// <param name="DeadLettered">Queued writes given up on while the flush waited (read them with <see cref="MultiTierCache.DrainDeadLetters"/>); for the drain of <c>DisposeAsync</c>, also those its deadline left.</param>
/// <param name="UnwrittenKeys">Keys still queued when the deadline passed, each once (at most 1,000 listed).</param>
/// <param name="PendingCount">How many keys still had a write queued or being written when the flush returned (each key once).</param>
public sealed record WriteBehindFlushResult(
    bool Completed,
    long Written,
    long DeadLettered,
    IReadOnlyList<string> UnwrittenKeys,
    int PendingCount);
