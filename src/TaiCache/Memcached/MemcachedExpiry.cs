namespace TaiCache.Memcached;

/// <summary>
/// When an item read from memcached expires. memcached counts time in whole seconds and drops an item as soon as its
/// clock reaches the item's exptime, so an exptime <c>n</c> seconds ahead lasts between <c>n - 1</c> and <c>n</c>
/// seconds (a 1-second exptime can be gone within milliseconds). TaiCache therefore sends one second more than the TTL
/// rounded up, so the server keeps an item past its TTL, and ends a TaiCache value on time by the expiry its envelope
/// records (Unix milliseconds, the writer's clock).
/// </summary>
/// <remarks>
/// The server's seconds left (<c>t</c>) vouch for that record. For an item written (or re-expired) by TaiCache and not
/// touched since, the record's time left lies between the server's seconds less 3 s and the server's seconds (less 1 s
/// right after the write; as much as the seconds themselves when the server's clock ticks soon after it, since that
/// clock lags real time by up to a second); a record outside that band by more than <see cref="ClockToleranceMs"/> was
/// set aside by a touch from another client, or written by a machine whose clock disagrees with this one, and the
/// server's seconds decide instead.
/// </remarks>
internal static class MemcachedExpiry
{
    /// <summary>How far (milliseconds) a record's time left may fall outside the band the server's seconds allow, for clocks that disagree a little.</summary>
    public const long ClockToleranceMs = 500;

    /// <summary>Seconds added to a TTL rounded up, so an item outlives its TTL on the server.</summary>
    public const long ExtraSeconds = 1;

    /// <summary>Decides whether a hit is live and when it expires.</summary>
    /// <param name="recordedExpiry">The expiry the value's envelope records (Unix milliseconds), 0 for none or for an item without an envelope.</param>
    /// <param name="serverSecondsLeft">The server's seconds left (<c>t</c>): -1 for no expiry, <see langword="null"/> when not reported.</param>
    /// <param name="nowUnixMs">The reader's clock, Unix milliseconds.</param>
    /// <param name="expiresAtUnixMs">When the value expires (Unix milliseconds; the earliest the server may drop it when the record does not decide), 0 for never.</param>
    /// <returns><see langword="false"/> when the record decides and its expiry has passed: the item is a miss.</returns>
    public static bool IsLive(long recordedExpiry, int? serverSecondsLeft, long nowUnixMs, out long expiresAtUnixMs)
    {
        if (serverSecondsLeft is not { } seconds)
        {
            expiresAtUnixMs = recordedExpiry;
            return recordedExpiry == 0 || recordedExpiry > nowUnixMs;
        }

        if (seconds < 0)
        {
            // No expiry on the server (a touch to none): the record no longer describes the item.
            expiresAtUnixMs = 0;
            return true;
        }

        var serverMs = seconds * 1000L;
        var left = recordedExpiry - nowUnixMs;
        if (recordedExpiry != 0 && left >= serverMs - ((ExtraSeconds + 2) * 1000) - ClockToleranceMs && left <= serverMs + ClockToleranceMs)
        {
            expiresAtUnixMs = recordedExpiry;
            return left > 0;
        }

        expiresAtUnixMs = nowUnixMs + (Math.Max(seconds - 1, 0) * 1000L);
        return true;
    }

    /// <summary>
    /// The exptime for a touch that cannot rewrite a TaiCache value's record (no CAS, a value too large for the new
    /// record, or one that keeps changing), so that the server's seconds decide afterwards, as documented: a new exptime
    /// whose seconds would vouch for the old record (the new TTL a second or four longer than the record has left) is
    /// raised until they cannot, over the item's whole life; otherwise, the record would still end the value at its
    /// old expiry. Raised by at most about four seconds; a relative exptime only (an absolute one is returned as is).
    /// </summary>
    /// <param name="recordedExpiry">The old record (Unix ms), positive.</param>
    /// <param name="nowUnixMs">The reader's clock, Unix milliseconds.</param>
    /// <param name="exptime">The exptime the TTL asks for, relative seconds.</param>
    /// <returns>The exptime to touch the item with, at least <paramref name="exptime"/>.</returns>
    public static long TouchExptimeSettingAside(long recordedExpiry, long nowUnixMs, long exptime)
    {
        var left = recordedExpiry - nowUnixMs;

        // IsLive takes the record when its time left is within [seconds - 3.5 s, seconds + 0.5 s] of the server's seconds
        // left, which are whole and so run up to a second apart from the exact time left as the item ages. Below
        // vouchesFrom the TTL asked ends before the record, so a record that vouches only keeps the value a little
        // longer, as the server does; from it up to vouchesUpTo the record would end the value before the TTL asked.
        var vouchesFrom = left + (ExtraSeconds * 1000) - ClockToleranceMs;
        var vouchesUpTo = left + ((ExtraSeconds + 2) * 1000) + ClockToleranceMs + 1000;
        var ms = exptime * 1000;
        return ms < vouchesFrom || ms >= vouchesUpTo ? exptime : (vouchesUpTo + 999) / 1000;
    }

    /// <summary>Whether a live item's seconds left are few enough that its record may already have expired it (a check without the value reads it then).</summary>
    /// <param name="serverSecondsLeft">The server's seconds left.</param>
    public static bool MayHaveExpired(int? serverSecondsLeft) =>
        serverSecondsLeft is { } s && s >= 0 && s * 1000L <= ((ExtraSeconds + 2) * 1000) + ClockToleranceMs;
}
