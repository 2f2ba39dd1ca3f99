namespace TaiCache.Tiering;

/// <summary>What a write-behind <see cref="MultiTierCache"/> does with a write when its queue is full.</summary>
public enum WriteBehindFullPolicy
{
    /// <summary>
    /// The write waits (asynchronously) until the flusher makes room, or the caller cancels. A batch waits until all of
    /// it fits (one larger than the capacity, until the queue is empty); a cancelled wait applies nothing.
    /// </summary>
    Block = 0,

    /// <summary>
    /// The write fails with a <see cref="WriteBehindQueueFullException"/>; L1 is left unchanged. A batch that does not
    /// fit whole is refused whole.
    /// </summary>
    Reject = 1,

    /// <summary>
    /// The write is carried through every tier before it returns, as under <see cref="WriteStrategy.WriteThrough"/>. Of a
    /// batch that does not fit, the keys needing room are carried through as one batch, then the keys already queued
    /// take their new values in the queue.
    /// </summary>
    FallBackToWriteThrough = 2,
}
