using TaiCache.Serialization;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>A queued value.</summary>
/// <typeparam name="T">The value's type.</typeparam>
internal sealed class PendingSet<T> : PendingWrite
{
    public PendingSet(string key, T value, MultiTierEntryOptions options, long sequence, long enqueuedAt, int tiers)
        : base(key, options, sequence, enqueuedAt, tiers)
    {
        Value = value;
    }

    public T Value { get; }

    public override WriteBehindOperation Operation => WriteBehindOperation.Set;

    public override Type ValueType => typeof(T);

    public override object? BoxedValue => Value;

    public override bool ApplyToMemory(MultiTierCache owner)
    {
        owner.SetMemoryTiers(Key, Value, Options);
        return true;
    }

    public override ValueTask WriteThroughAsync(MultiTierCache owner, CancellationToken cancellationToken) =>
        owner.WriteThroughSetAsync(Key, Value, Options, cancellationToken);

    public override PendingWrite Restamp(long sequence, long enqueuedAt, int tiers) => new PendingSet<T>(Key, Value, Options, sequence, enqueuedAt, tiers);

    public override byte[] Encode() => CacheValueCodec.Default.Encode(Key, Value);

    public override ValueTask WriteGroupAsync(ICacheOps tier, List<PendingWrite> group, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        var items = new KeyValuePair<string, T>[group.Count];
        for (var i = 0; i < items.Length; i++)
        {
            var entry = (PendingSet<T>)group[i];
            items[i] = new KeyValuePair<string, T>(entry.Key, entry.Value);
        }

        if (IsFill)
        {
            return WriteFillsAsync(tier, items, group, ttl, cancellationToken);
        }

        return items.Length == 1
            ? tier.SetAsync(items[0].Key, items[0].Value, ttl, cancellationToken)
            : tier.SetManyAsync(items, ttl, cancellationToken);
    }

    /// <summary>Writes factory values where their keys hold nothing; marks those that yielded to the tier's own value.</summary>
    private static async ValueTask WriteFillsAsync(ICacheOps tier, KeyValuePair<string, T>[] items, List<PendingWrite> group, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        var stored = await YieldingWrite.StoreManyAsync(tier, [.. items], ttl, cancellationToken).ConfigureAwait(false);
        if (stored.Count == items.Length)
        {
            return;
        }

        var kept = new HashSet<string>(stored.Count, StringComparer.Ordinal);
        foreach (var item in stored)
        {
            kept.Add(item.Key);
        }

        foreach (var entry in group)
        {
            entry.Yielded |= !kept.Contains(entry.Key);
        }
    }
}
