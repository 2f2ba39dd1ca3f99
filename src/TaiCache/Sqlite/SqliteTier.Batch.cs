using Microsoft.Data.Sqlite;

namespace TaiCache.Sqlite;

/// <summary>Batch operations: each runs in one transaction, so a batch is all-or-nothing and costs one commit.</summary>
public sealed partial class SqliteTier
{
    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateAll(keys, _options.MaxKeyBytes);
        var found = new List<KeyValuePair<string, byte[]>>(list.Count);
        if (list.Count == 0)
        {
            return new Dictionary<string, T>(StringComparer.Ordinal);
        }

        var started = _metrics?.StartTimingAlways() ?? 0;
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var tx = _connection.BeginTransaction(deferred: true);
            _sql.Enlist(tx);
            try
            {
                var now = NowMs();
                foreach (var key in list)
                {
                    if (ReadLive(key, now) is { } bytes)
                    {
                        found.Add(KeyValuePair.Create(key, bytes));
                    }
                }

                tx.Commit();
            }
            finally
            {
                _sql.Enlist(null);
            }
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(GetManyAsync), null, ex);
        }
        finally
        {
            _gate.Release();
        }

        var result = new Dictionary<string, T>(found.Count, StringComparer.Ordinal);
        foreach (var (key, bytes) in found)
        {
            result[key] = _codec.Decode<T>(key, bytes);
        }

        if (_metrics is not null)
        {
            for (var i = 0; i < found.Count; i++)
            {
                _metrics.RecordHitTimed(started);
            }

            for (var i = found.Count; i < list.Count; i++)
            {
                _metrics.RecordMissTimed(started);
            }
        }

        return result;
    }

    /// <inheritdoc />
    public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        var materialized = items.ToList();
        foreach (var item in materialized)
        {
            CacheKeyRules.Validate(item.Key, _options.MaxKeyBytes, paramName: nameof(items));
        }

        // Serialize everything before taking the lock: a value the serializer refuses stores nothing.
        var encoded = new KeyValuePair<string, byte[]>[materialized.Count];
        var envelopeExpiry = Serialization.CacheValueCodec.ExpiryFor(ttl ?? _options.DefaultTtl, _time);
        for (var i = 0; i < materialized.Count; i++)
        {
            encoded[i] = KeyValuePair.Create(materialized[i].Key, _codec.Encode(materialized[i].Key, materialized[i].Value, envelopeExpiry));
        }

        if (encoded.Length == 0)
        {
            return;
        }

        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var tx = _connection.BeginTransaction();
            _sql.Enlist(tx);
            try
            {
                var expiresAt = ExpiresAt(ttl, NowMs());
                foreach (var (key, bytes) in encoded)
                {
                    Upsert(key, bytes, expiresAt);
                }

                tx.Commit();
            }
            finally
            {
                _sql.Enlist(null);
            }
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(SetManyAsync), null, ex);
        }
        finally
        {
            _gate.Release();
        }

        if (_metrics is not null)
        {
            for (var i = 0; i < encoded.Length; i++)
            {
                _metrics.RecordSet();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateAll(keys, _options.MaxKeyBytes);
        if (list.Count == 0)
        {
            return 0;
        }

        long removed = 0;
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var tx = _connection.BeginTransaction();
            _sql.Enlist(tx);
            try
            {
                var now = NowMs();
                foreach (var key in list)
                {
                    if (DeleteOne(key, now))
                    {
                        removed++;
                    }
                }

                tx.Commit();
            }
            finally
            {
                _sql.Enlist(null);
            }
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(DeleteManyAsync), null, ex);
        }
        finally
        {
            _gate.Release();
        }

        if (_metrics is not null)
        {
            for (var i = 0; i < removed; i++)
            {
                _metrics.RecordDelete();
            }
        }

        return removed;
    }
}
