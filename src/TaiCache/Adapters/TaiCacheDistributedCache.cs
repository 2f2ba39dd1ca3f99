using TaiCache.Tiering;
using System.Buffers.Binary;
using Microsoft.Extensions.Caching.Distributed;

namespace TaiCache.Adapters;

/// <summary>
/// Exposes any <see cref="ICacheOps"/> (a <see cref="MultiTierCache"/>, a single tier) as an
/// <see cref="IDistributedCache"/>, so ASP.NET Core session, output caching and existing code can use TaiCache.
/// </summary>
/// <remarks>
/// <para>Each value is stored as one byte array: a 17-byte header (format, absolute expiry, sliding window) and the
/// payload. The entry's time to live in the backend is the nearer of its absolute expiry and its sliding window, so the
/// backend drops it on time. Sliding expiration is honest: every <see cref="Get"/> and <see cref="Refresh"/> of an
/// entry with a sliding window moves its backend expiry forward (never past the absolute expiry) with
/// <see cref="ICacheOps.ExpireAsync"/>.</para>
/// <para>The synchronous methods complete without blocking when the backend answers synchronously (an
/// <see cref="InMemoryTier"/>, or an L1 hit of a <see cref="MultiTierCache"/>); otherwise they block on the
/// asynchronous call, as <see cref="IDistributedCache"/> requires. Prefer the asynchronous methods.</para>
/// <para>Values read are copies: changing a returned array never changes the cache.</para>
/// </remarks>
public sealed class TaiCacheDistributedCache : IDistributedCache
{
    private const byte FormatVersion = 1;
    private const int HeaderBytes = 17;

    private readonly ICacheOps _cache;
    private readonly TimeProvider _time;

    /// <summary>Initializes the adapter over a cache it does not own (disposing the cache stays the caller's job).</summary>
    /// <param name="cache">The cache.</param>
    /// <param name="timeProvider">The clock for absolute and sliding expiration; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    public TaiCacheDistributedCache(ICacheOps cache, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the cache the adapter stores in.</summary>
    public ICacheOps Cache => _cache;

    /// <inheritdoc />
    public byte[]? Get(string key) => Wait(GetAsyncCore(key, refresh: true, CancellationToken.None));

    /// <inheritdoc />
    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) =>
        GetAsyncCore(key, refresh: true, token).AsTask();

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => Wait(SetAsyncCore(key, value, options, CancellationToken.None));

    /// <inheritdoc />
    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        SetAsyncCore(key, value, options, token).AsTask();

    /// <inheritdoc />
    public void Refresh(string key) => Wait(RefreshAsyncCore(key, CancellationToken.None));

    /// <inheritdoc />
    public Task RefreshAsync(string key, CancellationToken token = default) => RefreshAsyncCore(key, token).AsTask();

    /// <inheritdoc />
    public void Remove(string key) => Wait(RemoveAsyncCore(key, CancellationToken.None));

    /// <inheritdoc />
    public Task RemoveAsync(string key, CancellationToken token = default) => RemoveAsyncCore(key, token).AsTask();

    private static T Wait<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask task)
    {
        if (task.IsCompletedSuccessfully)
        {
            return;
        }

        task.AsTask().GetAwaiter().GetResult();
    }

    private async ValueTask<byte[]?> GetAsyncCore(string key, bool refresh, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var result = await _cache.GetAsync<byte[]>(key, cancellationToken).ConfigureAwait(false);
        if (!result.HasValue || !TryReadHeader(result.Value, out var absolute, out var sliding))
        {
            return null;
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (absolute != 0 && absolute <= now)
        {
            await _cache.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (refresh && sliding != 0)
        {
            await SlideAsync(key, absolute, sliding, now, cancellationToken).ConfigureAwait(false);
        }

        return result.Value.AsSpan(HeaderBytes).ToArray();
    }

    private async ValueTask SetAsyncCore(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        var now = _time.GetUtcNow();
        long absolute = 0;
        if (options.AbsoluteExpirationRelativeToNow is { } relative)
        {
            absolute = Deadline.After(now, relative).ToUnixTimeMilliseconds();
        }
        else if (options.AbsoluteExpiration is { } at)
        {
            if (at <= now)
            {
                throw new ArgumentOutOfRangeException(nameof(options), at, "DistributedCacheEntryOptions.AbsoluteExpiration must be in the future.");
            }

            absolute = at.ToUnixTimeMilliseconds();
        }

        // Beyond the longest the header records (100 years), a sliding window is as good as none: kept at that bound.
        var sliding = options.SlidingExpiration is { } s ? Math.Clamp((long)s.TotalMilliseconds, 1, MaxSlidingMs) : 0;
        var entry = new byte[HeaderBytes + value.Length];
        entry[0] = FormatVersion;
        BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(1), absolute);
        BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(9), sliding);
        value.CopyTo(entry.AsSpan(HeaderBytes));
        await _cache.SetAsync(key, entry, Ttl(absolute, sliding, now.ToUnixTimeMilliseconds()), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask RefreshAsyncCore(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var result = await _cache.GetAsync<byte[]>(key, cancellationToken).ConfigureAwait(false);
        if (result.HasValue && TryReadHeader(result.Value, out var absolute, out var sliding) && sliding != 0)
        {
            await SlideAsync(key, absolute, sliding, _time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask RemoveAsyncCore(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _cache.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<bool> SlideAsync(string key, long absolute, long sliding, long now, CancellationToken cancellationToken)
    {
        var ttl = Ttl(absolute, sliding, now);
        return ttl is { } t && t > TimeSpan.Zero ? _cache.ExpireAsync(key, t, cancellationToken) : new ValueTask<bool>(false);
    }

    private static TimeSpan? Ttl(long absolute, long sliding, long now)
    {
        long? ms = null;
        if (absolute != 0)
        {
            ms = Math.Max(1, absolute - now);
        }

        if (sliding != 0)
        {
            ms = ms is { } a ? Math.Min(a, sliding) : sliding;
        }

        return ms is { } m ? TimeSpan.FromMilliseconds(m) : null;
    }

    private static bool TryReadHeader(byte[]? entry, out long absolute, out long sliding)
    {
        if (entry is null || entry.Length < HeaderBytes || entry[0] != FormatVersion)
        {
            absolute = 0;
            sliding = 0;
            return false;
        }

        absolute = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(1));
        sliding = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(9));

        // Bytes another writer stored under the key can start with the version byte too: only expiries a TimeSpan
        // and a DateTimeOffset can hold make an entry of this adapter (else it reads as absent, never an overflow).
        return absolute is >= 0 and <= MaxUnixMs && sliding is >= 0 and <= MaxSlidingMs;
    }

    private const long MaxUnixMs = 253_402_300_799_999; // DateTimeOffset.MaxValue
    private const long MaxSlidingMs = 100L * 365 * 24 * 60 * 60 * 1000;
}
