using System.Text;
using TaiCache.Memcached.Protocol;
using TaiCache.Serialization;

namespace TaiCache.Memcached;

/// <summary>Changing a key's time to live.</summary>
public sealed partial class MemcachedCache
{
    // How many times ExpireAsync rereads an item another client changed between its read and its write.
    private const int ExpireAttempts = 4;

    /// <inheritdoc />
    /// <remarks>
    /// A TaiCache value records its absolute expiry in its envelope (<c>docs/format.md</c>) so a tier that copies it
    /// knows how long it has left. This rewrites that record with the TTL: it reads the item with its CAS token and
    /// stores it back only if unchanged (two round trips), retrying a few times when another client wrote in between.
    /// Any other item (a counter, another client's bytes), or one that keeps changing, is only touched.
    /// </remarks>
    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var wire = WireKey(key);
        CacheKeyRules.ValidateTtl(ttl);
        var exptime = ToExptime(ttl);
        var expiresAt = CacheValueCodec.ExpiryFor(ttl, _options.TimeProvider);
        var budget = _options.MaxItemBytes - MemcachedCacheOptions.ItemOverheadBytes - Encoding.UTF8.GetByteCount(wire);
        for (var attempt = 0; attempt < ExpireAttempts; attempt++)
        {
            var read = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, withCas: true, opaque: o), cancellationToken).ConfigureAwait(false);
            if (Expect(read, key, MetaResponseCode.Value, MetaResponseCode.Miss) == MetaResponseCode.Miss)
            {
                return false;
            }

            var patched = read.ClientFlags == ClientFlags ? CacheValueCodec.WithExpiry(read.Data!, expiresAt) : null;
            if (patched is null || patched.Length > budget)
            {
                break;
            }

            var write = await RoundTripAsync(key, wire, (patched, exptime, cas: read.Cas), idempotent: false, static (w, k, o, s) => MetaRequestWriter.WriteSet(w, k, s.patched, ClientFlags, s.exptime, mode: 0, s.cas, opaque: o), cancellationToken).ConfigureAwait(false);
            switch (Expect(write, key, MetaResponseCode.Stored, MetaResponseCode.Exists, MetaResponseCode.NotFound))
            {
                case MetaResponseCode.Stored:
                    return true;
                case MetaResponseCode.NotFound:
                    return false;
            }
        }

        return await TouchAsync(key, ttl, cancellationToken).ConfigureAwait(false);
    }
}
