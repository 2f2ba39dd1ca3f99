namespace TaiCache.Tiering;

/// <summary>Settings of the write-behind queue of a <see cref="MultiTierCache"/> (used with <see cref="WriteStrategy.WriteBehind"/>).</summary>
public sealed class WriteBehindOptions
{
    /// <summary>The longest <see cref="RetryMaxDelay"/> taken.</summary>
    private static readonly TimeSpan MaximumRetryDelay = TimeSpan.FromDays(1);

    /// <summary>
    /// Gets or sets the most distinct keys waiting to be written (repeated writes to one key take one slot). Default
    /// 100,000. A lower tier's retry of an <c>ExpireAsync</c> it failed, and a value queued again behind its own write
    /// in flight to take a new TTL, may exceed it by one entry per key being expired at that moment.
    /// </summary>
    public int Capacity { get; set; } = 100_000;

    /// <summary>Gets or sets what a write does when the queue is full. Default <see cref="WriteBehindFullPolicy.Block"/>.</summary>
    public WriteBehindFullPolicy FullPolicy { get; set; } = WriteBehindFullPolicy.Block;

    /// <summary>Gets or sets the most writes sent to a tier in one batch (one <c>SetManyAsync</c> per value type and TTL). Default 500.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>Gets or sets how many failed attempts a write gets before it goes to the dead-letter sink. Default 10.</summary>
    /// <remarks>An attempt counts only when a tier was actually called: while a tier's circuit is open, writes wait without using attempts.</remarks>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Gets or sets the first retry delay; it doubles per consecutive failure, with ±50% jitter. Default 100 ms.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Gets or sets the longest retry delay, at most 1 day. Default 10 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long <see cref="MultiTierCache.FlushAsync(CancellationToken)"/> (without a deadline) and <see cref="MultiTierCache.DisposeAsync"/> wait for the queue to drain. Default 30 s.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the most dead letters kept for <see cref="MultiTierCache.DrainDeadLetters"/>; older ones are dropped past it. Default 10,000.</summary>
    public int DeadLetterCapacity { get; set; } = 10_000;

    /// <summary>Gets or sets a callback told of each dead letter as it happens (on the flusher's thread; keep it short and do not throw).</summary>
    public Action<WriteBehindDeadLetter>? OnDeadLetter { get; set; }

    /// <summary>
    /// Gets or sets the path of a SQLite file journaling queued writes: a write is acknowledged only once journaled, and
    /// a cache built on the same file replays what a crashed process had not flushed. <see langword="null"/> (the default) for none.
    /// The file may be the L3 SQLite file (the journal uses its own table), but one journal serves one cache: while
    /// open it is held through <c>JournalPath + ".lock"</c>, and a second cache on it (in any process) is refused.
    /// The journal is a WAL-mode file with <c>synchronous=NORMAL</c>: a journaled write survives the process crashing,
    /// not an operating system crash or a power loss (the last commits may not have reached the disk).
    /// </summary>
    public string? JournalPath { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        if (Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity, "WriteBehindOptions.Capacity must be positive: the queue is always bounded.");
        }

        if (!Enum.IsDefined(FullPolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(FullPolicy), FullPolicy, "WriteBehindOptions.FullPolicy is not a known policy.");
        }

        if (BatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "WriteBehindOptions.BatchSize must be positive.");
        }

        if (MaxAttempts <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "WriteBehindOptions.MaxAttempts must be positive.");
        }

        if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryBaseDelay), RetryBaseDelay, "WriteBehindOptions.RetryBaseDelay must be positive and no longer than RetryMaxDelay.");
        }

        if (RetryMaxDelay > MaximumRetryDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryMaxDelay), RetryMaxDelay, "WriteBehindOptions.RetryMaxDelay must be at most 1 day (the flusher waits that long at most between rounds).");
        }

        if (DrainTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(DrainTimeout), DrainTimeout, "WriteBehindOptions.DrainTimeout must be positive.");
        }

        if (DeadLetterCapacity < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(DeadLetterCapacity), DeadLetterCapacity, "WriteBehindOptions.DeadLetterCapacity must be zero or more.");
        }

        if (JournalPath is not null && string.IsNullOrWhiteSpace(JournalPath))
        {
            throw new ArgumentException("WriteBehindOptions.JournalPath must be a file path, or null for no journal.", nameof(JournalPath));
        }
    }

    internal WriteBehindOptions Clone() => (WriteBehindOptions)MemberwiseClone();
}
