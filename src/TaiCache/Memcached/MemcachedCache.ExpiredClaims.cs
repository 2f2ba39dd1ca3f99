using TaiCache.Memcached.Protocol;

namespace TaiCache.Memcached;

/// <summary>
/// Adds over values that have expired by their record but that memcached still holds for a second or two (see
/// <see cref="MemcachedExpiry"/>): memcached refuses the add, yet the key holds nothing live, so the add replaces the
/// expired item if it is unchanged since it was read (compare-and-swap), or adds again when it is gone meanwhile. On a
/// server with CAS disabled (<c>memcached -C</c>, every token 0) no compare-and-swap is possible, and the add stays refused.
/// </summary>
public sealed partial class MemcachedCache
{
    /// <summary>Stores a refused add where its key holds an expired value; returns whether it was stored.</summary>
    private async ValueTask<bool> ClaimExpiredAsync(string key, string wire, byte[] data, long exptime, CancellationToken cancellationToken)
    {
        var read = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, withCas: true, opaque: o), cancellationToken).ConfigureAwait(false);
        var held = Expect(read, key, MetaResponseCode.Value, MetaResponseCode.Miss) == MetaResponseCode.Value;
        // Token 0 is a server with CAS disabled (memcached -C): a claim without a token would overwrite unchecked. An item
        // too large to read cannot be judged expired: it stands.
        if (held && (read.IsOversize || IsLive(read, Now(), out _) || read.Cas == 0))
        {
            await GiveBackRecacheTokenAsync(key, wire, read, cancellationToken).ConfigureAwait(false); // not refilled here
            return false;
        }

        var claim = (data, exptime, mode: held ? (byte)0 : (byte)'E', cas: held ? read.Cas : 0UL);
        var write = await RoundTripAsync(key, wire, claim, idempotent: false, static (w, k, o, s) => MetaRequestWriter.WriteSet(w, k, s.data, ClientFlags, s.exptime, s.mode, s.cas, opaque: o), cancellationToken).ConfigureAwait(false);
        return Expect(write, key, MetaResponseCode.Stored, MetaResponseCode.NotStored, MetaResponseCode.Exists, MetaResponseCode.NotFound) == MetaResponseCode.Stored;
    }

    /// <summary>
    /// Creates a counter at <paramref name="initialValue"/> over a TaiCache value expired by its record, which memcached
    /// refused to increment as not a number: if the item is unchanged since read (compare-and-swap), as an increment of a
    /// missing key would create it. Returns <see langword="true"/> when created, <see langword="false"/> when the item
    /// changed or vanished meanwhile (the update should be tried again), <see langword="null"/> when the key holds a live
    /// value, one that is not TaiCache's, or is on a server with CAS disabled (no safe claim): not a number.
    /// </summary>
    private async ValueTask<bool?> ClaimExpiredForCounterAsync(string key, string wire, ulong initialValue, long exptime, CancellationToken cancellationToken)
    {
        var read = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, withCas: true, opaque: o), cancellationToken).ConfigureAwait(false);
        if (Expect(read, key, MetaResponseCode.Value, MetaResponseCode.Miss) == MetaResponseCode.Miss)
        {
            return false; // gone meanwhile: the update creates the counter
        }

        if (read.IsOversize || read.ClientFlags != ClientFlags || read.Cas == 0 || IsLive(read, Now(), out _))
        {
            await GiveBackRecacheTokenAsync(key, wire, read, cancellationToken).ConfigureAwait(false); // not refilled here
            return null;
        }

        var data = System.Text.Encoding.ASCII.GetBytes(initialValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var write = await RoundTripAsync(key, wire, (data, exptime, cas: read.Cas), idempotent: false, static (w, k, o, s) => MetaRequestWriter.WriteSet(w, k, s.data, 0, s.exptime, mode: 0, s.cas, opaque: o), cancellationToken).ConfigureAwait(false);
        return Expect(write, key, MetaResponseCode.Stored, MetaResponseCode.Exists, MetaResponseCode.NotFound) == MetaResponseCode.Stored;
    }

    /// <summary>
    /// Clears <paramref name="notStored"/> for the refused adds of a batch whose key held an expired value, once they are
    /// stored over it: one pipelined read of the refused keys, one pipelined write of the claims, per node. A claim whose
    /// answer is lost and that is sent again reads as refused (its own write changed the token): the add yields, as to another writer.
    /// </summary>
    private async ValueTask ClaimExpiredManyAsync(List<string> wires, byte[][] values, long exptime, bool[] notStored, CancellationToken cancellationToken)
    {
        var refused = new List<int>();
        for (var i = 0; i < notStored.Length; i++)
        {
            if (notStored[i])
            {
                refused.Add(i);
            }
        }

        if (refused.Count == 0)
        {
            return;
        }

        var reads = await FetchAsync(refused.ConvertAll(i => wires[i]), skipDown: null, cancellationToken, withCas: true).ConfigureAwait(false);
        var now = Now();
        var claims = new List<int>();
        var tokens = new ulong[wires.Count];
        for (var k = 0; k < refused.Count; k++)
        {
            var held = reads[k].Code == MetaResponseCode.Value;
            if (held && (reads[k].IsOversize || IsLive(reads[k], now, out _) || reads[k].Cas == 0))
            {
                continue; // live, too large to judge, or no compare-and-swap possible (memcached -C answers token 0): the add stays refused
            }

            tokens[refused[k]] = held ? reads[k].Cas : 0;
            claims.Add(refused[k]);
        }

        if (claims.Count == 0)
        {
            return;
        }

        await RunGroupedAsync(wires, claims, (wires, values, exptime, tokens, notStored), skipDown: null, static async (conn, batch, state, token) =>
        {
            var markers = new ProgressMarkers();
            for (var j = 0; j < batch.Count; j++)
            {
                var i = batch[j];
                state.notStored[i] = false; // quiet: only a refusal answers
                var cas = state.tokens[i];
                MetaRequestWriter.WriteSet(conn.Request, state.wires[i], state.values[i], ClientFlags, state.exptime, mode: cas == 0 ? (byte)'E' : (byte)0, cas, quiet: true, opaque: j);
                markers.AddIfDue(conn);
            }

            MetaRequestWriter.WriteNoOp(conn.Request);
            await PipelineAsync(conn, batch.Count, (batch, state.notStored), static (r, s) =>
            {
                if (r.Code is not (MetaResponseCode.NotStored or MetaResponseCode.Exists or MetaResponseCode.NotFound))
                {
                    return false;
                }

                s.notStored[s.batch[r.Opaque]] = true;
                return true;
            }, token, markers.Count).ConfigureAwait(false);
        }, hops: 0, cancellationToken).ConfigureAwait(false);
    }
}
