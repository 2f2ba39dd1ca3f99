using StackExchange.Redis;
using TaiCache.Serialization;

namespace TaiCache.Redis;

/// <summary>Batch operations: MGET and DEL grouped by hash slot (so they work on a cluster), writes pipelined.</summary>
public sealed partial class RedisCache
{
    private int _clusterState; // 0 unknown, 1 cluster, 2 single server or replicas
    private int _singleServerState; // 0 unknown, 1 one server (not a cluster), 2 more than one endpoint

    /// <inheritdoc />
    /// <remarks>One MGET per hash slot on a cluster (sent concurrently), one MGET in all on a single server. A key asked
    /// twice is sent twice (no hash set per batch) and counted twice in the tier's hit and miss metrics.</remarks>
    public async ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var logical = CacheKeyRules.ValidateEach(keys, _maxKeyBytes);
        return BatchResults.ToDictionary(logical, await ReadAlignedAsync<T>(logical, skipDown: null, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    ValueTask<CacheResult<T>[]> IBatchReader.ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        ((IPartialBatchReader)this).ReadManyAsync<T>(keys, new PartialBatchRead(), cancellationToken);

    /// <inheritdoc />
    ValueTask<CacheResult<T>[]> IPartialBatchReader.ReadManyAsync<T>(IReadOnlyList<string> keys, PartialBatchRead partial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (_maxKeyBytes < CacheKeyRules.DefaultMaxKeyBytes)
        {
            foreach (var key in keys)
            {
                CacheKeyRules.Validate(key, _maxKeyBytes, allowSpaces: true, nameof(keys));
            }
        }

        return ReadAlignedAsync<T>(keys, partial, cancellationToken);
    }

    /// <summary>MGETs checked keys into results aligned with them: one MGET on a single server, one per hash slot on a cluster.</summary>
    /// <param name="logical">The keys.</param>
    /// <param name="skipDown">When set, the keys of a Cluster primary that is down or hung while others answer (a partial
    /// outage) are left as misses instead of throwing, and the box is set to say so; <see langword="null"/> to throw.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    private async ValueTask<CacheResult<T>[]> ReadAlignedAsync<T>(IReadOnlyList<string> logical, PartialBatchRead? skipDown, CancellationToken cancellationToken)
    {
        var results = new CacheResult<T>[logical.Count];
        if (logical.Count == 0)
        {
            ThrowIfDisposed(); // as every call after DisposeAsync, an empty one too
            return results;
        }

        var db = await GetDatabaseAsync(null, "MGET", cancellationToken).ConfigureAwait(false);
        var start = _metrics is null ? 0 : _time.GetTimestamp();
        int hits;
        if (IsCluster(_multiplexer!))
        {
            hits = await ReadBySlotAsync(db, logical, results, skipDown, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // One MGET. Each key carries the prefix's bytes and the key's text, written one after the other (no
            // concatenation), and the array goes straight to the connection (a prefixed view would copy it).
            var keys = new RedisKey[logical.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = PrefixKey(logical[i]);
            }

            RedisValue[] values;
            try
            {
                values = await WithTimeout(db.StringGetAsync(keys), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTranslatable(ex))
            {
                throw Translate(ex, null, "MGET");
            }

            hits = 0;
            for (var i = 0; i < values.Length; i++)
            {
                if (!values[i].IsNull)
                {
                    results[i] = new CacheResult<T>(Decode<T>(logical[i], values[i], out var expiresAt), expiresAt);
                    hits++;
                }
            }
        }

        if (hits > 0)
        {
            await ApplyServerTtlsAsync(db, logical, results, cancellationToken).ConfigureAwait(false);
        }

        if (_metrics is not null)
        {
            var elapsed = _time.GetElapsedTime(start);
            for (var i = 0; i < hits; i++)
            {
                _metrics.RecordHit(elapsed);
            }

            for (var i = hits; i < logical.Count; i++)
            {
                _metrics.RecordMiss(elapsed);
            }
        }

        return results;
    }

    private async ValueTask<int> ReadBySlotAsync<T>(IDatabase db, IReadOnlyList<string> logical, CacheResult<T>[] results, PartialBatchRead? skipDown, CancellationToken cancellationToken)
    {
        var groups = GroupBySlot(logical);
        var tasks = new Task<RedisValue[]>[groups.Count];
        try
        {
            for (var g = 0; g < groups.Count; g++)
            {
                // A slot whose primary is down: its keys are misses for a multi-tier read, an error for a plain one.
                if (_someServerDown && DownShard(groups[g].Physical[0]) is { } down)
                {
                    tasks[g] = skipDown is not null ? Task.FromResult(new RedisValue[groups[g].Physical.Length]) : throw ShardDown(null, "MGET", down);
                    skipDown!.Unanswered(groups[g].Index);
                    continue;
                }

                tasks[g] = db.StringGetAsync(groups[g].Physical);
            }

            await WithTimeout(Task.WhenAll(tasks), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            var failure = FirstFailure(tasks) ?? ex;
            var slow = failure is TimeoutException ? SlowShards(tasks, g => groups[g].Physical[0]) : null;
            var translated = Translate(failure, null, "MGET", slow);

            // A hung primary's keys are misses for a multi-tier read, when every other slot's MGET answered.
            if (skipDown is null || translated is not CacheTimeoutException { IsPartialOutage: true } || !OnlySlowFailed(tasks))
            {
                throw translated;
            }

            for (var g = 0; g < groups.Count; g++)
            {
                if (tasks[g] is not { IsCompletedSuccessfully: true })
                {
                    skipDown.Unanswered(groups[g].Index);
                }
            }
        }

        var hits = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            if (tasks[g] is not { IsCompletedSuccessfully: true })
            {
                continue; // a hung primary's slot (a partial timeout)
            }

            var values = tasks[g].Result;
            var index = groups[g].Index;
            for (var i = 0; i < values.Length; i++)
            {
                if (!values[i].IsNull)
                {
                    var at = index[i];
                    results[at] = new CacheResult<T>(Decode<T>(logical[at], values[i], out var expiresAt), expiresAt);
                    hits++;
                }
            }
        }

        return hits;
    }

    /// <inheritdoc />
    /// <remarks>Every key is checked and every value serialized before anything is sent; the writes then go in one pipelined batch.</remarks>
    public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        _ = await StoreManyAsync(items as IReadOnlyCollection<KeyValuePair<string, T>> ?? items.ToList(), ttl, When.Always, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>One pipelined <c>SET NX</c> per item.</remarks>
    ValueTask<bool[]> IConditionalWriter.AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        return StoreManyAsync(items, ttl, When.NotExists, cancellationToken);
    }

    /// <summary>Checks and encodes every item, then sends the sets in one pipelined batch; returns which were stored.</summary>
    private async ValueTask<bool[]> StoreManyAsync<T>(IReadOnlyCollection<KeyValuePair<string, T>> list, TimeSpan? ttl, When when, CancellationToken cancellationToken)
    {
        CacheKeyRules.ValidateTtl(ttl);
        foreach (var item in list)
        {
            CacheKeyRules.Validate(item.Key, _maxKeyBytes, allowSpaces: true, "items");
        }

        var stored = new bool[list.Count];
        if (list.Count == 0)
        {
            ThrowIfDisposed();
            return stored;
        }

        var expiry = ToServerExpiry(ttl ?? _defaultTtl);
        var expiresAt = CacheValueCodec.ExpiryFor(expiry, _time);
        var encoded = new List<(RedisKey Key, byte[] Value)>(list.Count);
        foreach (var item in list)
        {
            encoded.Add((PrefixKey(item.Key), Codec.Encode(item.Key, item.Value, expiresAt)));
        }

        var operation = when == When.NotExists ? "SET NX (batch)" : "SET (batch)";
        var db = await GetDatabaseAsync(null, operation, cancellationToken).ConfigureAwait(false);
        var tasks = new Task<bool>[encoded.Count];
        try
        {
            var batch = db.CreateBatch();
            for (var i = 0; i < encoded.Count; i++)
            {
                tasks[i] = batch.StringSetAsync(encoded[i].Key, encoded[i].Value, expiry, when);
            }

            batch.Execute();
            await WithTimeout(Task.WhenAll(tasks), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            var failure = FirstFailure(tasks) ?? ex;
            throw Translate(failure, null, operation, failure is TimeoutException ? SlowShards(tasks, i => encoded[i].Key) : null);
        }

        for (var i = 0; i < tasks.Length; i++)
        {
            stored[i] = tasks[i].Result;
            if (stored[i])
            {
                _metrics?.RecordSet();
            }
        }

        return stored;
    }

    /// <inheritdoc />
    /// <remarks>One DEL per hash slot on a cluster (sent concurrently), one DEL in all on a single server.</remarks>
    public async ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var logical = CacheKeyRules.ValidateAll(keys, _maxKeyBytes);
        if (logical.Count == 0)
        {
            ThrowIfDisposed();
            return 0;
        }

        var db = await GetDatabaseAsync(null, "DEL", cancellationToken).ConfigureAwait(false);
        var groups = GroupBySlot(logical);
        var tasks = new Task<long>[groups.Count];
        try
        {
            for (var i = 0; i < groups.Count; i++)
            {
                tasks[i] = db.KeyDeleteAsync(groups[i].Physical);
            }

            await WithTimeout(Task.WhenAll(tasks), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            var failure = FirstFailure(tasks) ?? ex;
            throw Translate(failure, null, "DEL (batch)", failure is TimeoutException ? SlowShards(tasks, i => groups[i].Physical[0]) : null);
        }

        long removed = 0;
        foreach (var task in tasks)
        {
            removed += task.Result;
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

    /// <summary>Groups validated logical keys by the hash slot of their physical key; one group when the server is not a cluster.</summary>
    /// <summary>
    /// Prefixes checked keys and groups them by hash slot (one group on a single server), each group with the keys'
    /// positions in <paramref name="logical"/>, so a multi-key command per group works on a cluster.
    /// </summary>
    private List<(RedisKey[] Physical, int[] Index)> GroupBySlot(IReadOnlyList<string> logical)
    {
        var multiplexer = _multiplexer!;
        if (!IsCluster(multiplexer))
        {
            var physical = new RedisKey[logical.Count];
            for (var i = 0; i < physical.Length; i++)
            {
                physical[i] = PrefixKey(logical[i]);
            }

            return [(physical, Enumerable.Range(0, physical.Length).ToArray())];
        }

        var bySlot = new Dictionary<int, (List<RedisKey> Physical, List<int> Index)>();
        for (var i = 0; i < logical.Count; i++)
        {
            var physical = PrefixKey(logical[i]);
            var slot = multiplexer.HashSlot(physical);
            if (!bySlot.TryGetValue(slot, out var group))
            {
                group = ([], []);
                bySlot.Add(slot, group);
            }

            group.Physical.Add(physical);
            group.Index.Add(i);
        }

        var groups = new List<(RedisKey[] Physical, int[] Index)>(bySlot.Count);
        foreach (var group in bySlot.Values)
        {
            groups.Add((group.Physical.ToArray(), group.Index.ToArray()));
        }

        return groups;
    }

    /// <summary>
    /// Whether a command this cache issues now goes out on the one connection a PUBLISH through
    /// <paramref name="multiplexer"/> would take, so Redis runs the two in the order they were issued: the same
    /// multiplexer, already connected (a command is written when issued, not after an await), to a single server (on a
    /// cluster, or with replicas, a key's node and a PUBLISH's may differ).
    /// </summary>
    internal bool SharesOrderedConnection(IConnectionMultiplexer? multiplexer)
    {
        var own = _multiplexer;
        if (own is null || !ReferenceEquals(own, multiplexer) || Volatile.Read(ref _database) is null)
        {
            return false;
        }

        var state = Volatile.Read(ref _singleServerState);
        if (state == 0)
        {
            if (!own.IsConnected)
            {
                return false;
            }

            state = !IsCluster(own) && own.GetEndPoints().Length == 1 ? 1 : 2;
            Volatile.Write(ref _singleServerState, state);
        }

        return state == 1;
    }

    /// <summary>Whether the connection is to a cluster; grouping by slot is the safe answer while that is not yet known.</summary>
    private bool IsCluster(IConnectionMultiplexer multiplexer)
    {
        var state = Volatile.Read(ref _clusterState);
        if (state != 0)
        {
            return state == 1;
        }

        if (!multiplexer.IsConnected)
        {
            return true;
        }

        var cluster = IsClusterCore(multiplexer);
        Volatile.Write(ref _clusterState, cluster ? 1 : 2);
        return cluster;
    }

    /// <summary>Whether every command of a batch either completed or waited on a primary that timed out (none failed otherwise).</summary>
    private static bool OnlySlowFailed(Task[] tasks)
    {
        foreach (var task in tasks)
        {
            if (task is { IsCompleted: true, IsCompletedSuccessfully: false } && task.Exception?.InnerException is not TimeoutException)
            {
                return false;
            }
        }

        return true;
    }

    private static Exception? FirstFailure(Task[] tasks)
    {
        foreach (var task in tasks)
        {
            if (task is { IsFaulted: true, Exception: { } aggregate })
            {
                return aggregate.InnerException;
            }
        }

        return null;
    }
}
