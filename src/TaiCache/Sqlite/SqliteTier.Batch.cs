using Microsoft.Data.Sqlite;

namespace TaiCache.Sqlite;

/// <summary>Batch operations: each runs in one transaction, so a batch is all-or-nothing and costs one commit.</summary>
public sealed partial class SqliteTier
{
    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateAll(keys, _options.MaxKeyBytes);
        return BatchResults.ToDictionary(list, await ReadAlignedAsync<T>(list, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    ValueTask<CacheResult<T>[]> IBatchReader.ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        ReadAlignedAsync<T>(CacheKeyRules.ValidateEach(keys, _options.MaxKeyBytes), cancellationToken);

    /// <summary>Reads checked keys in one transaction; one result per key at its index, each hit with the expiry its writer recorded.</summary>
    private async ValueTask<CacheResult<T>[]> ReadAlignedAsync<T>(List<string> list, CancellationToken cancellationToken)
    {
        var results = new CacheResult<T>[list.Count];
        if (list.Count == 0)
        {
            return results;
        }

        var found = new byte[]?[list.Count];
        var rowExpiries = new long[list.Count];
        var started = _metrics?.StartTimingAlways() ?? 0;
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var tx = _connection.BeginTransaction(deferred: true);
            _sql.Enlist(tx);
            try
            {
                var now = NowMs();
                for (var i = 0; i < list.Count; i++)
                {
                    found[i] = ReadLive(list[i], now, out rowExpiries[i]);
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

        for (var i = 0; i < list.Count; i++)
        {
            if (found[i] is { } bytes)
            {
                _metrics?.RecordHitTimed(started);
                results[i] = new CacheResult<T>(_codec.Decode<T>(list[i], bytes, out var expiresAt), HitExpiry(expiresAt, rowExpiries[i]));
            }
            else
            {
                _metrics?.RecordMissTimed(started);
            }
        }

        return results;
    }

    /// <inheritdoc />
    public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        _ = await WriteManyAsync(items.ToList(), ttl, onlyIfAbsent: false, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    ValueTask<bool[]> IConditionalWriter.AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        return WriteManyAsync(items, ttl, onlyIfAbsent: true, cancellationToken);
    }

    /// <summary>Writes a batch in one transaction: every row, or (<paramref name="onlyIfAbsent"/>) those whose key has no live row; returns which were written.</summary>
    private async ValueTask<bool[]> WriteManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> materialized, TimeSpan? ttl, bool onlyIfAbsent, CancellationToken cancellationToken)
    {
        CacheKeyRules.ValidateTtl(ttl);
        foreach (var item in materialized)
        {
            CacheKeyRules.Validate(item.Key, _options.MaxKeyBytes, paramName: "items");
        }

        // Serialize everything before taking the lock: a value the serializer refuses stores nothing.
        var encoded = new KeyValuePair<string, byte[]>[materialized.Count];
        var envelopeExpiry = Serialization.CacheValueCodec.ExpiryFor(ttl ?? _options.DefaultTtl, _time);
        for (var i = 0; i < materialized.Count; i++)
        {
            encoded[i] = KeyValuePair.Create(materialized[i].Key, _codec.Encode(materialized[i].Key, materialized[i].Value, envelopeExpiry));
        }

        var written = new bool[encoded.Length];
        if (encoded.Length == 0)
        {
            return written;
        }

        await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
        try
        {
            using var tx = _connection.BeginTransaction();
            _sql.Enlist(tx);
            try
            {
                var now = NowMs();
                var expiresAt = ExpiresAt(ttl, now);
                for (var i = 0; i < encoded.Length; i++)
                {
                    var (key, bytes) = encoded[i];
                    if (onlyIfAbsent)
                    {
                        written[i] = InsertIfAbsent(key, bytes, expiresAt, now);
                    }
                    else
                    {
                        Upsert(key, bytes, expiresAt);
                        written[i] = true;
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
            throw Fail(onlyIfAbsent ? "AddManyAsync" : nameof(SetManyAsync), null, ex);
        }
        finally
        {
            _gate.Release();
        }

        if (_metrics is not null)
        {
            foreach (var stored in written)
            {
                if (stored)
                {
                    _metrics.RecordSet();
                }
            }
        }

        return written;
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
        await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
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
