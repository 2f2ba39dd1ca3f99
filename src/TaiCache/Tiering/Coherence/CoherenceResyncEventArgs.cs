namespace TaiCache.Tiering.Coherence;

/// <summary>Describes a resynchronisation: the local tier was cleared because messages may have been lost.</summary>
public sealed class CoherenceResyncEventArgs : EventArgs
{
    /// <summary>Initializes the arguments.</summary>
    /// <param name="reason">Why the instance resynchronised.</param>
    /// <param name="peerInstanceId">The peer whose messages were missed, when known.</param>
    /// <param name="entriesCleared">How many entries the local tier held when it was cleared.</param>
    public CoherenceResyncEventArgs(CoherenceResyncReason reason, string? peerInstanceId, long entriesCleared)
    {
        Reason = reason;
        PeerInstanceId = peerInstanceId;
        EntriesCleared = entriesCleared;
    }

    /// <summary>Gets why the instance resynchronised.</summary>
    public CoherenceResyncReason Reason { get; }

    /// <summary>Gets the peer whose messages were missed (for <see cref="CoherenceResyncReason.SequenceGap"/>), else <see langword="null"/>.</summary>
    public string? PeerInstanceId { get; }

    /// <summary>Gets how many entries the local tier held when it was cleared.</summary>
    public long EntriesCleared { get; }
}
