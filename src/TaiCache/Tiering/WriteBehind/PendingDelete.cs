namespace TaiCache.Tiering.WriteBehind;

/// <summary>A queued removal.</summary>
internal sealed class PendingDelete : PendingWrite
{
    public PendingDelete(string key, MultiTierEntryOptions options, long sequence, long enqueuedAt, int tiers)
        : base(key, options, sequence, enqueuedAt, tiers)
    {
    }

    public override WriteBehindOperation Operation => WriteBehindOperation.Delete;

    public override Type? ValueType => null;

    public override object? BoxedValue => null;

    public override bool ApplyToMemory(MultiTierCache owner) => owner.RemoveFromMemoryTiers(Key);

    public override ValueTask WriteThroughAsync(MultiTierCache owner, CancellationToken cancellationToken) =>
        new(owner.WriteThroughDeleteAsync(Key, cancellationToken).AsTask());

    public override PendingWrite Restamp(long sequence, long enqueuedAt, int tiers) => new PendingDelete(Key, Options, sequence, enqueuedAt, tiers);

    public override byte[]? Encode() => null;

    public override ValueTask WriteGroupAsync(ICacheOps tier, List<PendingWrite> group, TimeSpan? ttl, CancellationToken cancellationToken) =>
        DeleteAllAsync(tier, group, cancellationToken);

    /// <summary>Removes every key of the group from the tier in one call.</summary>
    public static async ValueTask DeleteAllAsync(ICacheOps tier, List<PendingWrite> group, CancellationToken cancellationToken)
    {
        var keys = new string[group.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = group[i].Key;
        }

        await tier.DeleteManyAsync(keys, cancellationToken).ConfigureAwait(false);
    }
}
