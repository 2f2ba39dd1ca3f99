using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>The one path a Redis command takes: wait for the connection, bound by the timeout, translate failures.</summary>
public sealed partial class RedisCache
{
    /// <summary>Runs one command against the database.</summary>
    /// <typeparam name="TState">What the command needs (a tuple), so the lambda can be static.</typeparam>
    /// <typeparam name="TResult">The command's result.</typeparam>
    /// <param name="key">The logical key, for messages.</param>
    /// <param name="operation">The Redis command, for messages.</param>
    /// <param name="state">The command's arguments.</param>
    /// <param name="command">Starts the command.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The result.</returns>
    private async ValueTask<TResult> RunAsync<TState, TResult>(string? key, string operation, TState state, Func<IDatabase, TState, Task<TResult>> command, CancellationToken cancellationToken)
    {
        var db = await GetDatabaseAsync(key, operation, cancellationToken).ConfigureAwait(false);
        TResult result;
        try
        {
            result = await WithTimeout(command(db, state), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, operation);
        }

        if (_metrics is not null)
        {
            RecordCommand(_metrics, operation, result);
        }

        return result;
    }

    /// <summary>
    /// Counts a collection or counter command as the value operations are counted: additions as sets, removals as
    /// deletes, reads as hits when they found something (a value, members, a true membership, a count above 0).
    /// </summary>
    private static void RecordCommand<TResult>(Metrics.MetricsCollector metrics, string operation, TResult result)
    {
        switch (operation)
        {
            case "LPUSH" or "RPUSH" or "HSET" or "SADD" or "ZADD" or "INCRBY" or "DECRBY":
                metrics.RecordSet();
                break;
            case "HDEL" or "SREM" or "ZREM":
                metrics.RecordDelete();
                break;
            case "GET" or "LPOP" or "RPOP" or "LRANGE" or "LLEN" or "HGET" or "HGETALL" or "HEXISTS" or "SMEMBERS"
                or "SISMEMBER" or "SCARD" or "ZSCORE" or "ZRANGE" or "ZREVRANGE" or "ZCARD":
                var found = result switch
                {
                    RedisValue value => !value.IsNull,
                    bool member => member,
                    long count => count > 0,
                    Array items => items.Length > 0,
                    null => false,
                    _ => true,
                };
                if (found)
                {
                    metrics.RecordHit();
                }
                else
                {
                    metrics.RecordMiss();
                }

                break;
        }
    }

    /// <summary>Runs one command against a server (INFO, SCAN, DBSIZE).</summary>
    private async ValueTask<TResult> RunOnServerAsync<TState, TResult>(IServer server, string operation, TState state, Func<IServer, TState, Task<TResult>> command, CancellationToken cancellationToken)
    {
        try
        {
            return await WithTimeout(command(server, state), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, null, operation);
        }
    }

    /// <summary>The primaries to walk for server-wide commands: every primary of a cluster, or the one primary. Throws when one is unreachable, since the answer would be incomplete.</summary>
    private async ValueTask<List<IServer>> GetPrimariesAsync(string operation, CancellationToken cancellationToken)
    {
        _ = await GetDatabaseAsync(null, operation, cancellationToken).ConfigureAwait(false);
        var multiplexer = _multiplexer!;
        var primaries = new List<IServer>();
        var unreachable = 0;
        foreach (var server in multiplexer.GetServers())
        {
            if (server.IsReplica)
            {
                continue;
            }

            if (!server.IsConnected)
            {
                unreachable++;
                continue;
            }

            primaries.Add(server);
        }

        if (primaries.Count == 0 || unreachable > 0)
        {
            _metrics?.RecordError();
            throw new CacheConnectionException($"Redis cache '{Name}': {operation} needs every primary, and {unreachable} of {primaries.Count + unreachable} could not be reached.");
        }

        return primaries;
    }

    /// <summary>Decodes many stored values of one key (list items, set members).</summary>
    private List<T> DecodeAll<T>(string key, RedisValue[] values)
    {
        var list = new List<T>(values.Length);
        foreach (var value in values)
        {
            list.Add(DecodeItem<T>(key, value));
        }

        return list;
    }

    /// <summary>Encodes many values for one key.</summary>
    private RedisValue[] EncodeAll<T>(string key, IEnumerable<T> values, string paramName)
    {
        ArgumentNullException.ThrowIfNull(values, paramName);
        var encoded = new List<RedisValue>();
        foreach (var value in values)
        {
            encoded.Add(Codec.Encode(key, value));
        }

        if (encoded.Count == 0)
        {
            throw new ArgumentException("At least one value is needed.", paramName);
        }

        return [.. encoded];
    }

    /// <summary>Checks a hash field name (no control characters, bounded length; empty allowed, as in Redis).</summary>
    private void ValidateField(string field) => CacheKeyRules.ValidateField(field, _maxKeyBytes);
}
