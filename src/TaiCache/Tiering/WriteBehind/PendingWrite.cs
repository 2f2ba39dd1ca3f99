namespace TaiCache.Tiering.WriteBehind;

/// <summary>One queued write-behind operation on one key: the latest value (or removal) not yet in every lower tier.</summary>
internal abstract class PendingWrite
{
    protected PendingWrite(string key, MultiTierEntryOptions options, long sequence, long enqueuedAt, int tiers)
    {
        Key = key;
        Options = options;
        Ttl = options.Ttl;
        Sequence = sequence;
        FirstSequence = sequence;
        EnqueuedAt = enqueuedAt;
        RemainingTiers = tiers;
    }

    public string Key { get; }

    public MultiTierEntryOptions Options { get; }

    /// <summary>Gets the TTL for the lower tiers as it was asked for (changed by <c>ExpireAsync</c> while queued).</summary>
    public TimeSpan? Ttl { get; private set; }

    /// <summary>
    /// Gets when the key is to expire: the time of the write (or of the expiry) plus its TTL; <see langword="null"/>
    /// for no TTL, a removal, or an entry not stamped yet. The flusher gives a lower tier what is left of it, so a value
    /// queued for a while (a tier was down) does not outlive the TTL it was set with.
    /// </summary>
    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>Gets this version's sequence number (the journal row's version).</summary>
    public long Sequence { get; }

    /// <summary>Gets or sets the oldest sequence number this entry supersedes (a flush waits for it).</summary>
    public long FirstSequence { get; set; }

    /// <summary>Gets or sets when the oldest write this entry supersedes was queued (timestamp), for the queue-age metric.</summary>
    public long EnqueuedAt { get; set; }

    /// <summary>Gets or sets the bit set of tiers still to write.</summary>
    public int RemainingTiers { get; set; }

    public int Attempts { get; set; }

    public bool FailedThisRound { get; set; }

    /// <summary>Gets or sets whether a tier refused the value itself (too large, not serializable): retrying cannot help, so it is dead-lettered at once.</summary>
    public bool FailedPermanently { get; set; }

    public string? LastError { get; set; }

    /// <summary>Gets or sets whether this is a factory's value (queued by a load, not a caller's write): a tier takes it
    /// only where the key holds nothing, so it never lands over another instance's newer write (see <see cref="YieldingWrite"/>).</summary>
    public bool IsFill { get; set; }

    /// <summary>Gets or sets whether a tier held a value of the key already, which this fill yielded to: it goes to no other tier.</summary>
    public bool Yielded { get; set; }

    /// <summary>Gets or sets the journal commit this version's row awaits (<see langword="null"/>: no journal, or journaled
    /// before it was queued, as a batch is).</summary>
    public JournalCommit? Commit { get; set; }

    /// <summary>Gets or sets the queued version this one replaced while either was not yet journaled: what the queue holds
    /// again for the key if this one's journal commit fails (see <c>WriteBehindQueue.Undo</c>).</summary>
    public PendingWrite? Replaced { get; set; }

    /// <summary>Gets or sets whether the queue took this version back as its key's current one (its commit failed): the
    /// memory tiers hold its value, which its writer removes.</summary>
    public bool TakenBack { get; set; }

    /// <summary>Gets whether this version's journal commit failed: it was never acknowledged, and is not to be written.</summary>
    public bool IsUnjournaled => Commit is { IsFailed: true };

    public abstract WriteBehindOperation Operation { get; }

    /// <summary>Gives the key a TTL counted from <paramref name="now"/>.</summary>
    public void SetTtl(TimeSpan? ttl, DateTimeOffset now)
    {
        Ttl = ttl;
        ExpiresAt = ttl is { } t ? Deadline.After(now, t) : null;
    }

    /// <summary>Gives the key a TTL whose deadline is already known (a journaled or retried expiry).</summary>
    protected void SetTtl(TimeSpan ttl, DateTimeOffset expiresAt)
    {
        Ttl = ttl;
        ExpiresAt = expiresAt;
    }

    /// <summary>Tells whether the key's deadline has passed (it then has no value to write or to serve).</summary>
    public bool HasExpired(DateTimeOffset now) => ExpiresAt <= now;

    /// <summary>Gets the value's type, or <see langword="null"/> for a removal.</summary>
    public abstract Type? ValueType { get; }

    public abstract object? BoxedValue { get; }

    /// <summary>Applies the operation to the memory tiers above the lower tiers.</summary>
    /// <returns>For a removal, whether a memory tier held the key.</returns>
    public abstract bool ApplyToMemory(MultiTierCache owner);

    /// <summary>Carries the operation through every tier now (full-queue fallback).</summary>
    public abstract ValueTask WriteThroughAsync(MultiTierCache owner, CancellationToken cancellationToken);

    /// <summary>Makes a copy of this operation as a new version.</summary>
    public abstract PendingWrite Restamp(long sequence, long enqueuedAt, int tiers);

    /// <summary>Encodes the value for the journal (null for a removal).</summary>
    public abstract byte[]? Encode();

    /// <summary>Writes a group of entries of this entry's value type and TTL to one tier in one call.</summary>
    public abstract ValueTask WriteGroupAsync(ICacheOps tier, List<PendingWrite> group, TimeSpan? ttl, CancellationToken cancellationToken);
}
