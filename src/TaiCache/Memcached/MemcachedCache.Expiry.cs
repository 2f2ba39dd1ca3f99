using System.Text;
using TaiCache.Memcached.Protocol;
using TaiCache.Serialization;

namespace TaiCache.Memcached;

/// <summary>Changing a key's time to live.</summary>
public sealed partial class MemcachedCache
{
    // How many times a new TTL rereads an item another client changed between its read and its write.
    private const int ExpireAttempts = 4;

    /// <inheritdoc />
    /// <remarks>
    /// A TaiCache value records its absolute expiry in its envelope (<c>docs/format.md</c>): it ends the value on time
    /// (memcached counts whole seconds, see <see cref="MemcachedExpiry"/>) and tells a tier that copies it how long it
    /// has left. This rewrites that record with the TTL: it reads the item with its CAS token and stores it back only if
    /// unchanged (two round trips), retrying a few times when another client wrote in between. Any other item (a
    /// counter, another client's bytes), one that keeps changing, or any item on a server with CAS disabled
    /// (<c>memcached -C</c>), is only touched. A value whose recorded expiry has
    /// passed is expired: it returns <see langword="false"/> and stays expired.
    /// </remarks>
    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        await RetimeAsync(key, ttl, check: null, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Sets a new time to live on an existing item (memcached touch), as <see cref="ExpireAsync"/> does.</summary>
    /// <param name="key">The key.</param>
    /// <param name="ttl">The new time to live; must be positive.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns><see langword="true"/> when the key held a live item.</returns>
    /// <remarks>A plain touch would leave a TaiCache value's recorded expiry behind, so the value is read and written back
    /// with the new record (two round trips); see <see cref="ExpireAsync"/>.</remarks>
    public async ValueTask<bool> TouchAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        await RetimeAsync(key, ttl, check: null, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Reads a value and sets a new time to live on it (memcached get-and-touch), as <see cref="ExpireAsync"/> does.</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="ttl">The new time to live; must be positive.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns>A hit with the value, or a miss (a value whose recorded expiry has passed is a miss and is not touched).</returns>
    public async ValueTask<CacheResult<T>> GetAndTouchAsync<T>(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var started = _metrics?.StartTimingAlways() ?? 0;
        T value = default!;

        // Decoded before the item is touched: one that cannot be read as T (another client's, another type) throws with
        // its TTL unchanged.
        if (await RetimeAsync(key, ttl, read => value = Decode<T>(key, read.ClientFlags, read.Data!), cancellationToken).ConfigureAwait(false) is not { } retimed)
        {
            _metrics?.RecordMissTimed(started);
            return CacheResult<T>.Miss;
        }

        // The expiry the call recorded, not one computed again after its round trips (later by their time).
        _metrics?.RecordHitTimed(started);
        return new CacheResult<T>(value, retimed.ExpiresAt);
    }

    /// <summary>
    /// <see cref="MemcachedExpiry.TouchExptimeSettingAside"/> for relative and absolute exptimes alike: over 30 days
    /// memcached reads the exptime as a unix time, whose seconds left vouch for an old record just as relative ones do.
    /// </summary>
    private long TouchExptimeSettingAside(long recorded, long exptime)
    {
        var now = Now();
        if (exptime <= ThirtyDaysSeconds)
        {
            return MemcachedExpiry.TouchExptimeSettingAside(recorded, now, exptime);
        }

        // The same seconds left as the relative exptime would give, raised the same way, then made absolute again
        // (capped at memcached's 32-bit clock, as ToExptime caps it).
        var nowSeconds = _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        var relative = exptime - nowSeconds;
        return Math.Min(nowSeconds + MemcachedExpiry.TouchExptimeSettingAside(recorded, now, relative), int.MaxValue);
    }

    /// <summary>Gives a live item a new TTL; returns the item as read (its value from before) and the expiry recorded for it
    /// (Unix ms), or <see langword="null"/> when the key held no live item. <paramref name="check"/> sees each read before
    /// anything is written, and may throw to stop.</summary>
    private async ValueTask<(MetaResponse Read, long ExpiresAt)?> RetimeAsync(string key, TimeSpan ttl, Action<MetaResponse>? check, CancellationToken cancellationToken)
    {
        var wire = WireKey(key);
        CacheKeyRules.ValidateTtl(ttl);
        var exptime = ToExptime(ttl);
        var expiresAt = ExpiryFor(ttl);
        var budget = _options.MaxItemBytes - MemcachedCacheOptions.ItemOverheadBytes - Encoding.UTF8.GetByteCount(wire);
        MetaResponse read = default;
        for (var attempt = 0; attempt < ExpireAttempts; attempt++)
        {
            read = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, withCas: true, opaque: o), cancellationToken).ConfigureAwait(false);
            if (Expect(read, key, MetaResponseCode.Value, MetaResponseCode.Miss) == MetaResponseCode.Miss || !IsLive(read, Now(), out _))
            {
                await GiveBackRecacheTokenAsync(key, wire, read, cancellationToken).ConfigureAwait(false); // a stale item is not touched
                return null;
            }

            if (read.IsOversize)
            {
                throw TooLargeToRead(key, read); // as a get of it does: it cannot be read, so not given a new record
            }

            check?.Invoke(read);

            // A server started with CAS disabled (memcached -C) answers token 0, and a write with no token is a plain
            // set that would lose a concurrent write: only touch then.
            var patched = read.ClientFlags == ClientFlags && read.Cas != 0 ? CacheValueCodec.WithExpiry(read.Data!, expiresAt) : null;
            if (patched is null || patched.Length > budget)
            {
                break;
            }

            var write = await RoundTripAsync(key, wire, (patched, exptime, cas: read.Cas), idempotent: false, static (w, k, o, s) => MetaRequestWriter.WriteSet(w, k, s.patched, ClientFlags, s.exptime, mode: 0, s.cas, opaque: o), cancellationToken).ConfigureAwait(false);
            switch (Expect(write, key, MetaResponseCode.Stored, MetaResponseCode.Exists, MetaResponseCode.NotFound))
            {
                case MetaResponseCode.Stored:
                    return (read, expiresAt);
                case MetaResponseCode.NotFound:
                    return null;
            }
        }

        // Only touched, a TaiCache value keeps its old record: the new seconds must not vouch for it (see MemcachedExpiry).
        var recorded = read.ClientFlags == ClientFlags ? CacheValueCodec.RecordedExpiry(read.Data) : 0;
        var touchExptime = recorded == 0 ? exptime : TouchExptimeSettingAside(recorded, exptime);
        var touch = await RoundTripAsync(key, wire, touchExptime, idempotent: true, static (w, k, o, t) => MetaRequestWriter.WriteGet(w, k, withValue: false, touchExptime: t, opaque: o), cancellationToken).ConfigureAwait(false);
        return Expect(touch, key, MetaResponseCode.Stored, MetaResponseCode.Miss) == MetaResponseCode.Stored ? (read, expiresAt) : null;
    }
}
