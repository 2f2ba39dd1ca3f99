namespace TaiCache;

/// <summary>
/// Tells an <see cref="InMemoryTier"/> whether copies of values read or loaded elsewhere may be stored in it now: a
/// coherence that cannot vouch for them (its subscription down, unconfirmed or silent) refuses them, because a peer's
/// write made meanwhile would leave them stale with nothing to say so.
/// </summary>
internal interface ICopyGate
{
    /// <summary>Gets a value indicating whether copies are refused right now.</summary>
    bool RefusesCopies { get; }
}
