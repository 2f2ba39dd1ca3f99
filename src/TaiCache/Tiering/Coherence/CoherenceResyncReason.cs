namespace TaiCache.Tiering.Coherence;

/// <summary>Why a <see cref="CacheCoherence"/> cleared its local tier to resynchronise.</summary>
public enum CoherenceResyncReason
{
    /// <summary>A peer's sequence numbers jumped (a message or a heartbeat showed that messages were missed).</summary>
    SequenceGap = 0,

    /// <summary>The subscription connection failed; messages sent until it is back will be lost.</summary>
    SubscriberDisconnected = 1,

    /// <summary>The subscription connection came back and was confirmed by the echo of the instance's own message.</summary>
    SubscriberReconnected = 2,

    /// <summary>The instance stopped hearing its own heartbeat: the subscription went silent without a connection event.</summary>
    SubscriberSilent = 3,

    /// <summary>A message on the channel could not be read, so what it invalidated is unknown.</summary>
    UnreadableMessage = 4,
}
