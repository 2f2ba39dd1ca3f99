namespace TaiCache.Tiering.Coherence;

/// <summary>Describes keys evicted from the local tier because another instance invalidated them.</summary>
public sealed class CoherenceInvalidationEventArgs : EventArgs
{
    /// <summary>Initializes the arguments.</summary>
    /// <param name="originInstanceId">The instance that published the invalidation.</param>
    /// <param name="sequence">The message's sequence number at its origin.</param>
    /// <param name="keys">The keys evicted; empty when <paramref name="isClear"/>.</param>
    /// <param name="isClear">Whether the origin cleared everything.</param>
    public CoherenceInvalidationEventArgs(string originInstanceId, long sequence, IReadOnlyList<string> keys, bool isClear)
    {
        OriginInstanceId = originInstanceId;
        Sequence = sequence;
        Keys = keys;
        IsClear = isClear;
    }

    /// <summary>Gets the instance that published the invalidation.</summary>
    public string OriginInstanceId { get; }

    /// <summary>Gets the message's sequence number at its origin.</summary>
    public long Sequence { get; }

    /// <summary>Gets the keys evicted from the local tier (empty for a clear).</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Gets a value indicating whether the origin asked every instance to clear its local tier.</summary>
    public bool IsClear { get; }
}
