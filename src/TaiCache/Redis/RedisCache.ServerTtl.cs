using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>A hit's expiry as Redis itself holds it (<c>PTTL</c>), when the one its writer recorded cannot be trusted.</summary>
public sealed partial class RedisCache
{
    // The envelope records the expiry its writer gave (docs/format.md), but another client's EXPIRE, PEXPIRE or
    // PERSIST changes only Redis's TTL. Redis is the truth: with ReadTtlFromServer every hit's PTTL is read with it;
    // without it only a hit whose recorded expiry has passed (Redis still holds it, so the record is stale: a longer
    // foreign EXPIRE, a PERSIST) is asked, so the plain GET path sends nothing more.

    // A value and its TTL read in one step: a GET and a PTTL sent apart (pipelined, or a PTTL after a batch's MGETs)
    // let another client replace the value in between, and the old value was then reported with the new one's TTL.
    // A missing key answers nil; a key of another type fails the GET with WRONGTYPE, as a plain GET does.
    private static readonly LuaScript ReadWithTtlScript = LuaScript.Prepare(
        """
        local v = redis.call('GET', @key)
        if not v then return false end
        return {v, redis.call('PTTL', @key)}
        """);

    private int _readScriptRefused; // 1 once the server refused EVAL to this user: GET and PTTL are then sent apart

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

    /// <summary>Whether values and TTLs are read together by <see cref="ReadWithTtlScript"/> (the server has not refused scripts).</summary>
    private bool ReadsWithScript => Volatile.Read(ref _readScriptRefused) == 0;

    /// <summary>Starts a read of a stored key's value and TTL in one step, on the unprefixed database.</summary>
    private static Task<RedisResult> StartReadWithTtl(IDatabase db, RedisKey physical) =>
        db.ScriptEvaluateAsync(ReadWithTtlScript, new { key = physical });

    /// <summary>
    /// Tells whether a failed <see cref="StartReadWithTtl"/> is the server refusing scripts to this user (an ACL without
    /// <c>+eval</c>); if so, reads send <c>GET</c> and <c>PTTL</c> apart from now on, and this is logged once.
    /// </summary>
    private bool RefusedReadScript(Exception? ex)
    {
        if (ex is not RedisServerException server || !server.Message.StartsWith("NOPERM", StringComparison.Ordinal))
        {
            return false;
        }

        if (Interlocked.Exchange(ref _readScriptRefused, 1) == 0)
        {
            Log.ReadScriptRefused(_logger, Name);
        }

        return true;
    }

    /// <summary>
    /// The value and expiry of a <see cref="ReadWithTtlScript"/> reply: <see langword="false"/> for a key gone; else the
    /// stored bytes and the expiry to report (see <see cref="FromServerTtl"/>).
    /// </summary>
    private static bool FromReadWithTtl(RedisResult reply, long sentUnixMs, out RedisValue raw, out long expiresAtUnixMs)
    {
        if (reply.IsNull || reply.Resp2Type != ResultType.Array)
        {
            (raw, expiresAtUnixMs) = (RedisValue.Null, 0);
            return false;
        }

        var parts = (RedisResult[])reply!;
        raw = (RedisValue)parts[0];
        expiresAtUnixMs = FromServerTtl(parts[1], sentUnixMs);
        return true;
    }

    /// <summary>
    /// Replaces the recorded expiry of the hits that need Redis's (<see cref="NeedsServerTtl"/>) with Redis's, sent
    /// pipelined in one round trip after the batch's reads. Each such key's value is read again with its TTL in one step
    /// (<see cref="ReadWithTtlScript"/>), so a value another client replaced after the batch read it is reported as the
    /// new value with the new value's TTL, never the old value with the new TTL. A key gone since keeps the value read,
    /// expiring at once (nothing should copy it). When the server refuses scripts, a <c>PTTL</c> per key is sent instead.
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

        var withScript = ReadsWithScript;
        var (tasks, sent) = await StartServerTtlsAsync(db, logical, asked, withScript, cancellationToken).ConfigureAwait(false);
        if (tasks is null)
        {
            withScript = false; // scripts refused: a PTTL per key
            (tasks, sent) = await StartServerTtlsAsync(db, logical, asked, withScript, cancellationToken).ConfigureAwait(false);
        }

        for (var j = 0; j < tasks!.Length; j++)
        {
            var at = asked[j];
            if (!withScript)
            {
                results[at] = new CacheResult<T>(results[at].Value, FromServerTtl(tasks[j].Result, sent));
            }
            else if (FromReadWithTtl(tasks[j].Result, sent, out var raw, out var expiresAt))
            {
                results[at] = new CacheResult<T>(Decode<T>(logical[at], raw, out _), expiresAt);
            }
            else
            {
                results[at] = new CacheResult<T>(results[at].Value, Math.Max(sent, 1));
            }
        }
    }

    /// <summary>
    /// Sends the batch's server-TTL reads of the keys at <paramref name="asked"/> (value and TTL together, or a bare
    /// <c>PTTL</c>) pipelined and waits for them; <see langword="null"/> tasks when the server refused the script.
    /// </summary>
    private async ValueTask<(Task<RedisResult>[]? Tasks, long Sent)> StartServerTtlsAsync(IDatabase db, IReadOnlyList<string> logical, List<int> asked, bool withScript, CancellationToken cancellationToken)
    {
        var tasks = new Task<RedisResult>[asked.Count];
        var sent = _time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            for (var j = 0; j < tasks.Length; j++)
            {
                var physical = PrefixKey(logical[asked[j]]);
                tasks[j] = withScript ? StartReadWithTtl(db, physical) : StartPttl(db, physical);
            }

            await WithTimeout(Task.WhenAll(tasks), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            var failure = FirstFailure(tasks) ?? ex;
            if (withScript && RefusedReadScript(failure))
            {
                return (null, sent);
            }

            throw Translate(failure, null, withScript ? "GET+PTTL (batch)" : "PTTL (batch)", failure is TimeoutException ? SlowShards(tasks, j => PrefixKey(logical[asked[j]])) : null);
        }

        return (tasks, sent);
    }
}
