using System.Runtime.ExceptionServices;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// A write's journal payload encoded before the queue's lock is taken, or the codec's refusal, kept to be thrown where the
/// write would have been journaled (so a write that is carried through instead, for a full queue, does not fail on it).
/// </summary>
internal readonly struct EncodedRow
{
    private readonly byte[]? _payload;
    private readonly ExceptionDispatchInfo? _refusal;

    private EncodedRow(byte[]? payload, ExceptionDispatchInfo? refusal)
    {
        _payload = payload;
        _refusal = refusal;
    }

    /// <summary>Encodes the entry's value for the journal (<see cref="PendingWrite.Encode"/>), keeping a refusal for later.</summary>
    public static EncodedRow Of(PendingWrite entry)
    {
        try
        {
            return new EncodedRow(entry.Encode(), null);
        }
        catch (CacheSerializationException e)
        {
            return new EncodedRow(null, ExceptionDispatchInfo.Capture(e));
        }
    }

    /// <summary>Gets the encoded value (<see langword="null"/> for a removal), or throws the codec's refusal.</summary>
    public byte[]? Payload()
    {
        _refusal?.Throw();
        return _payload;
    }
}
