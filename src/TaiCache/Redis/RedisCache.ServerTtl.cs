using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>A hit's expiry as Redis itself holds it (<c>PTTL</c>), when the one its writer recorded cannot be trusted.</summary>
public sealed partial class RedisCache
{
    // The envelope records the expiry its writer gave (docs/format.md), but another client's EXPIRE, PEXPIRE or
    // PERSIST changes only Redis's TTL. Redis is the truth: with ReadTtlFromServer every hit's PTTL is read with it;
    // without it only a hit whose recorded expiry has passed (Redis still holds it, so the record is stale: a longer
    // foreign EXPIRE, a PERSIST) is asked, so the plain GET path sends nothing more.

    /// <summary>Whether a hit's expiry must come from Redis: always with <see cref="RedisCacheOptions.ReadTtlFromServer"/>, else when the recorded one has passed.</summary>
    private bool NeedsServerTtl(long recordedUnixMs, ref long nowUnixMs)
    {
        if (_readTtlFromServer)
        {
            return true;
        }

        if (recordedUnixMs == 0)
        {
            return false;
        }

        nowUnixMs = nowUnixMs != 0 ? nowUnixMs : _time.GetUtcNow().ToUnixTimeMilliseconds();
        return recordedUnixMs <= nowUnixMs;
    }

    /// <summary>
    /// The expiry to report for a hit from a <c>PTTL</c> reply: the time the command was sent plus the time left (never
    /// later than Redis's own expiry, whatever the reply's latency), 0 for a key without a TTL, and the send time for a
    /// key gone since it was read (nothing should copy it).
    /// </summary>
    /// <param name="pttl">The reply.</param>
    /// <param name="sentUnixMs">The clock's Unix milliseconds read before the command was sent.</param>
    private static long FromServerTtl(RedisResult pttl, long sentUnixMs)
    {
        var ms = (long)pttl;
        return ms switch
        {
            -1 => 0,
            >= 0 => Math.Max(sentUnixMs + ms, 1),
            _ => Math.Max(sentUnixMs, 1),
        };
    }

    /// <summary>Starts a <c>PTTL</c> of a stored key on the unprefixed database.</summary>
    private static Task<RedisResult> StartPttl(IDatabase db, RedisKey physical) => db.ExecuteAsync("PTTL", physical);

    /// <summary>
    /// Replaces the recorded expiry of the hits that need Redis's (<see cref="NeedsServerTtl"/>) with <c>PTTL</c>
    /// replies, sent pipelined in one round trip after the batch's reads.
    /// </summary>
    private async ValueTask ApplyServerTtlsAsync<T>(IDatabase db, IReadOnlyList<string> logical, CacheResult<T>[] results, CancellationToken cancellationToken)
    {
        List<int>? asked = null;
        long now = 0;
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i].HasValue && NeedsServerTtl(results[i].ExpiresAtUnixMs, ref now))
            {
                (asked ??= []).Add(i);
            }
        }

        if (asked is null)
        {
            return;
        }

        var tasks = new Task<RedisResult>[asked.Count];
        var sent = _time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            for (var j = 0; j < tasks.Length; j++)
            {
                tasks[j] = StartPttl(db, PrefixKey(logical[asked[j]]));
            }

            await WithTimeout(Task.WhenAll(tasks), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            var failure = FirstFailure(tasks) ?? ex;
            throw Translate(failure, null, "PTTL (batch)", failure is TimeoutException ? SlowShards(tasks, j => PrefixKey(logical[asked[j]])) : null);
        }

        for (var j = 0; j < tasks.Length; j++)
        {
            var at = asked[j];
            results[at] = new CacheResult<T>(results[at].Value, FromServerTtl(tasks[j].Result, sent));
        }
    }
}
