namespace TaiCache.Tiering.Coherence;

/// <summary>The kinds of coherence message (byte 3 of the wire format).</summary>
internal enum CoherenceMessageKind : byte
{
    /// <summary>Evict the listed keys.</summary>
    Invalidate = 1,

    /// <summary>Clear the whole local tier.</summary>
    Clear = 2,

    /// <summary>No keys; carries the origin's latest sequence number.</summary>
    Heartbeat = 3,
}
