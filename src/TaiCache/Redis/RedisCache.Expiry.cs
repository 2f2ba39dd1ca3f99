using System.Buffers.Binary;
using StackExchange.Redis;
using TaiCache.Serialization;

namespace TaiCache.Redis;

/// <summary>Changing a key's time to live.</summary>
public sealed partial class RedisCache
{
    // A TaiCache value records its absolute expiry in its envelope (docs/format.md) so a tier that copies it knows how
    // long it has left; a bare PEXPIRE would leave that record stale and let copies outlive the new TTL. The script
    // rewrites the record (bytes 6-13, or inserts them and sets flag bit 1) and the TTL in one atomic step; any other
    // key (a counter, a list, another client's bytes) gets a plain PEXPIRE. Lua strings are 1-based and binary-safe.
    private static readonly LuaScript ExpireScript = LuaScript.Prepare(
        """
        local t = redis.call('TYPE', @key)['ok']
        if t == 'string' then
          local v = redis.call('GET', @key)
          if string.len(v) >= 5 and string.sub(v, 1, 3) == 'TC\1' then
            local f = string.byte(v, 5)
            if f < 2 then
              redis.call('SET', @key, string.sub(v, 1, 4) .. string.char(f + 2) .. @expiry .. string.sub(v, 6), 'PX', @ttl)
              return 1
            elseif f < 4 and string.len(v) >= 13 then
              redis.call('SET', @key, string.sub(v, 1, 5) .. @expiry .. string.sub(v, 14), 'PX', @ttl)
              return 1
            end
          end
        end
        return redis.call('PEXPIRE', @key, @ttl)
        """);

    private int _scriptsRefused; // 1 once the server refused EVAL to this user: ExpireAsync then sends PEXPIRE alone

    /// <inheritdoc />
    /// <remarks>A TaiCache value's recorded expiry is rewritten with its TTL, in one script, so copies made later are capped by the new TTL.</remarks>
    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        CacheKeyRules.ValidateTtl(ttl);
        var serverTtl = ToServerExpiry(ttl)!.Value;
        var expiry = new byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(expiry, CacheValueCodec.ExpiryFor(serverTtl, _time));
        var db = await GetDatabaseAsync(key, "PEXPIRE", cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _scriptsRefused) == 0)
            {
                try
                {
                    var parameters = new { key = physical, ttl = (long)serverTtl.TotalMilliseconds, expiry };
                    var result = await WithTimeout(db.ScriptEvaluateAsync(ExpireScript, parameters), cancellationToken).ConfigureAwait(false);
                    return (long)result == 1;
                }
                catch (RedisServerException ex) when (ex.Message.StartsWith("NOPERM", StringComparison.Ordinal))
                {
                    // An ACL written for an older TaiCache: keep the TTL working, and say once what is lost.
                    if (Interlocked.Exchange(ref _scriptsRefused, 1) == 0)
                    {
                        Log.ScriptsRefused(_logger, Name);
                    }
                }
            }

            return await WithTimeout(db.KeyExpireAsync(physical, serverTtl), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, "PEXPIRE");
        }
    }
}
