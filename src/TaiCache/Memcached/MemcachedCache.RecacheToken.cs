using TaiCache.Memcached.Protocol;

namespace TaiCache.Memcached;

/// <summary>
/// memcached's recache token (<c>W</c>): the first <c>mg</c> of an item another meta client invalidated
/// (<c>md key I</c>) wins the right to refill it, whatever flags it sent, and every later reader gets <c>Z</c> (another
/// client refills). TaiCache's reads never refill, so a read that won gives the token back: it marks the item stale
/// again, only if unchanged since read (<c>md key I C&lt;cas&gt;</c>), which clears the token and keeps the item's TTL,
/// so the next reader (the client that does refill) wins it.
/// </summary>
public sealed partial class MemcachedCache
{
    /// <summary>Gives back the recache token a read won (see the type's remarks); does nothing for any other read.</summary>
    /// <param name="key">The key, for exceptions.</param>
    /// <param name="wire">The key as sent.</param>
    /// <param name="read">The read's response; its CAS token is used when it asked for one.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <remarks>Best effort: the read already has its answer (a miss), so a failure here is logged (event 2007), not thrown.
    /// On a server with CAS disabled (<c>memcached -C</c>, token 0) no conditional invalidation is possible and the token
    /// is kept, as before. Not async itself: every read calls it, and one that won nothing (nearly all) builds no state
    /// machine.</remarks>
    private ValueTask GiveBackRecacheTokenAsync(string key, string wire, in MetaResponse read, CancellationToken cancellationToken) =>
        read.WonRecache ? GiveBackWonRecacheTokenAsync(key, wire, read, cancellationToken) : ValueTask.CompletedTask;

    private async ValueTask GiveBackWonRecacheTokenAsync(string key, string wire, MetaResponse read, CancellationToken cancellationToken)
    {
        try
        {
            var cas = read.Cas;
            if (cas == 0)
            {
                // The read did not ask for the token: read it (this read wins nothing, the token is taken).
                var probe = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: false, withCas: true, opaque: o), cancellationToken).ConfigureAwait(false);
                if (Expect(probe, key, MetaResponseCode.Stored, MetaResponseCode.Miss) == MetaResponseCode.Miss || !probe.IsStale)
                {
                    return; // gone, or refilled meanwhile: the token went with the old item
                }

                cas = probe.Cas;
            }

            if (cas == 0)
            {
                return; // CAS disabled on the server: an unconditional invalidation could mark a refill stale
            }

            // HD: given back. EX: replaced (refilled) or invalidated again meanwhile, NF: gone; either way no token is held.
            var response = await RoundTripAsync(key, wire, cas, idempotent: true, static (w, k, o, c) => MetaRequestWriter.WriteDelete(w, k, opaque: o, invalidate: true, cas: c), cancellationToken).ConfigureAwait(false);
            Expect(response, key, MetaResponseCode.Stored, MetaResponseCode.Exists, MetaResponseCode.NotFound);
        }
        catch (CacheException ex)
        {
            var node = _locator?.Locate(wire) ?? _nodes[0]; // the key's owner on the ring, as GetServerForKey names it
            Log.RecacheTokenKept(_logger, node.Name, ex.Message);
        }
    }
}
