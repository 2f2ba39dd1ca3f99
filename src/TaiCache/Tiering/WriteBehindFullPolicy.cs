namespace TaiCache.Tiering;

/// <summary>What a write-behind <see cref="MultiTierCache"/> does with a write when its queue is full.</summary>
public enum WriteBehindFullPolicy
{
    /// <summary>The write waits (asynchronously) until the flusher makes room, or the caller cancels.</summary>
    Block = 0,

    /// <summary>The write fails with a <see cref="WriteBehindQueueFullException"/>; L1 is left unchanged.</summary>
    Reject = 1,

    /// <summary>The write is carried through every tier before it returns, as under <see cref="WriteStrategy.WriteThrough"/>.</summary>
    FallBackToWriteThrough = 2,
}
