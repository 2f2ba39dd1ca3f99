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
            // The peer changed keys it cannot name (a failed invalidation made up for, a pattern that cleared its L1):
            // any fail-safe copy here may be of one of them.
            ForgetAllFailSafe();
            SupersedeAllLoads();
            return;
        }

        foreach (var key in e.Keys)
        {
            // A fail-safe read (Redis down) must not serve the value the peer overwrote or deleted. A read that kept a
            // copy from before the peer's write after this is dropped by the L1 write mark the eviction left.
            ForgetFailSafe(key);
            _ = SupersedeLoad(key); // the message loop does not wait for a refresh's store
        }
    }

    /// <summary>
    /// Messages may have been lost: any load under way may predate a peer's write. Fail-safe copies are forgotten too
    /// when the coherence is coherent as it resynchronises (a gap in a peer's numbers, an unreadable message, the echo
    /// that ends a reconnect or a silence): a lost invalidation may have been about any of them. A resync raised as the
    /// subscription goes down or silent keeps them, for the outage they are kept for; the one that ends it forgets them.
    /// </summary>
    private void OnPeerResync(object? sender, CoherenceResyncEventArgs e)
    {
        if (_options.Coherence is { IsCoherent: true })
        {
            ForgetAllFailSafe();
        }

        SupersedeAllLoads();
    }

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
