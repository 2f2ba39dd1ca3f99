using System.Buffers.Binary;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// A new expiry that some lower tiers did not take when <c>ExpireAsync</c> ran (their call failed): retried by the
/// flusher like any queued write. It holds the absolute deadline, so a retry a minute later does not push the expiry
/// out by that minute; a deadline already passed when the retry runs removes the key from the tier instead.
/// </summary>
internal sealed class PendingExpiry : PendingWrite
{
    private readonly TimeProvider _time;

    public PendingExpiry(string key, DateTimeOffset expiresAt, TimeSpan ttl, TimeProvider time, MultiTierEntryOptions options, long sequence, long enqueuedAt, int tiers)
        : base(key, options, sequence, enqueuedAt, tiers)
    {
        SetTtl(ttl, expiresAt);
        _time = time;
    }

    /// <summary>Gets when the key is to expire (the time of the <c>ExpireAsync</c> call plus its TTL).</summary>
    public DateTimeOffset Deadline => ExpiresAt!.Value;

    public override WriteBehindOperation Operation => WriteBehindOperation.Expire;

    public override Type? ValueType => null;

    public override object? BoxedValue => null;

    /// <summary>The memory tiers took the expiry when it was asked for; nothing to apply again.</summary>
    public override bool ApplyToMemory(MultiTierCache owner) => false;

    public override async ValueTask WriteThroughAsync(MultiTierCache owner, CancellationToken cancellationToken)
    {
        for (var i = owner.FirstRemote; i < owner.Slots.Length; i++)
        {
            await WriteGroupAsync(owner.Slots[i].Ops, [this], Ttl, cancellationToken).ConfigureAwait(false);
        }
    }

    public override PendingWrite Restamp(long sequence, long enqueuedAt, int tiers) => new PendingExpiry(Key, Deadline, Ttl!.Value, _time, Options, sequence, enqueuedAt, tiers);

    /// <summary>The journal keeps the deadline (Unix milliseconds, little-endian) as the row's payload.</summary>
    public override byte[] Encode()
    {
        var bytes = new byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, Deadline.ToUnixTimeMilliseconds());
        return bytes;
    }

    /// <summary>Reads a deadline written by <see cref="Encode"/>; <see langword="null"/> when the payload is not one.</summary>
    public static DateTimeOffset? DecodeDeadline(byte[]? payload) =>
        payload is { Length: sizeof(long) } ? DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(payload)) : null;

    /// <summary>One call per key: each has its own deadline, and a key no longer in the tier is not a failure.</summary>
    public override async ValueTask WriteGroupAsync(ICacheOps tier, List<PendingWrite> group, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        foreach (var entry in group)
        {
            var expiry = (PendingExpiry)entry;
            var left = expiry.Deadline - expiry._time.GetUtcNow();
            if (left < TimeSpan.FromMilliseconds(1))
            {
                await tier.DeleteAsync(expiry.Key, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await tier.ExpireAsync(expiry.Key, left, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
