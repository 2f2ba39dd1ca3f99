using TaiCache.Tiering.Coherence;

namespace TaiCache.Tiering;

/// <summary>
/// Other instances' writes, as <see cref="MultiTierCacheOptions.Coherence"/> reports them, supersede this instance's
/// loads of their keys, as a write here does: an eager refresh's value then does not replace the peer's.
/// </summary>
public sealed partial class MultiTierCache
{
    /// <summary>
    /// Whether a hit found in tier <paramref name="foundAt"/> may be copied into L1 now: not a value read from a shared
    /// tier while the coherence cannot vouch for L1 (its subscription down, unconfirmed or silent), because a peer's
    /// write in that gap would leave the copy stale with its invalidation lost. Factory values, this instance's writes
    /// and copies from a local tier (SQLite) still go to L1: a Redis outage does not turn every read into a load.
    /// </summary>
    private bool MayCopyIntoL1(int foundAt) => !_slots[foundAt].IsShared || _options.Coherence is not { CopiesAtRisk: true };

    /// <summary>Subscribes to the coherence's invalidations and resyncs (if there is a coherence).</summary>
    private void WatchPeerWrites()
    {
        if (_options.Coherence is { } coherence)
        {
            coherence.RemoteInvalidation += OnPeerInvalidation;
            coherence.Resynchronized += OnPeerResync;
        }
    }

    /// <summary>Ends <see cref="WatchPeerWrites"/>.</summary>
    private void UnwatchPeerWrites()
    {
        if (_options.Coherence is { } coherence)
        {
            coherence.RemoteInvalidation -= OnPeerInvalidation;
            coherence.Resynchronized -= OnPeerResync;
        }
    }

    private void OnPeerInvalidation(object? sender, CoherenceInvalidationEventArgs e)
    {
        if (e.IsClear)
        {
            SupersedeAllLoads();
            return;
        }

        foreach (var key in e.Keys)
        {
            _ = SupersedeLoad(key); // the message loop does not wait for a refresh's store
        }
    }

    /// <summary>Messages may have been lost: any load under way may predate a peer's write.</summary>
    private void OnPeerResync(object? sender, CoherenceResyncEventArgs e) => SupersedeAllLoads();

    private void SupersedeAllLoads()
    {
        foreach (var load in _inflight)
        {
            if (load.Value is ISupersedable flight)
            {
                _ = flight.Supersede();
            }
        }
    }
}
