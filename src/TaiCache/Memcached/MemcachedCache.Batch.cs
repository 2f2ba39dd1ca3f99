using TaiCache.Memcached.Protocol;

namespace TaiCache.Memcached;

/// <summary>
/// Pipelined batches: per node, every command goes out in one write with the quiet flag (<c>q</c>) and an opaque
/// index (<c>O</c>), closed by <c>mn</c>; the responses (only hits, failures and not-founds, thanks to <c>q</c>) are read
/// while the write is still going, up to <c>MN</c>. Nodes are served in parallel.
/// </summary>
public sealed partial class MemcachedCache
{
    /// <summary>The longest stall window of a batch: a timer takes at most about 49.7 days.</summary>
    private static readonly TimeSpan MaxStallWindow = TimeSpan.FromDays(49);

    private const int KeysPerTimeout = 1000;

    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = ValidateKeys(keys);
        return BatchResults.ToDictionary(list, await ReadAlignedAsync<T>(list, skipDown: null, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    /// <remarks>
    /// For a multi-tier cache: under <see cref="MemcachedFailoverPolicy.FailFast"/>, the keys of a node marked down read
    /// as misses (the cache loads them from below) instead of failing the whole batch, so one dead node of several does
    /// not send the healthy nodes' keys to the factory too.
    /// </remarks>
    ValueTask<CacheResult<T>[]> IBatchReader.ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        ((IPartialBatchReader)this).ReadManyAsync<T>(keys, new PartialBatchRead(), cancellationToken);

    /// <inheritdoc />
    ValueTask<CacheResult<T>[]> IPartialBatchReader.ReadManyAsync<T>(IReadOnlyList<string> keys, PartialBatchRead partial, CancellationToken cancellationToken) =>
        ReadAlignedAsync<T>(CacheKeyRules.ValidateEach(keys, _maxUserKeyBytes, allowSpaces: false), partial, cancellationToken);

    /// <summary>Reads checked keys in one pipelined batch per node; one result per key at its index, each hit with its expiry (see <see cref="MemcachedExpiry"/>).</summary>
    /// <param name="list">The keys.</param>
    /// <param name="skipDown">When set, the keys of a node down or hung while others answer (a partial outage) are left
    /// as misses instead of throwing, and the box is set to say so; <see langword="null"/> to throw.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    private async ValueTask<CacheResult<T>[]> ReadAlignedAsync<T>(List<string> list, PartialBatchRead? skipDown, CancellationToken cancellationToken)
    {
        var results = new CacheResult<T>[list.Count];
        if (list.Count == 0)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this); // as every call after DisposeAsync, an empty one too
            return results;
        }

        var started = _metrics?.StartTimingAlways() ?? 0;
        var wires = list.ConvertAll(ToWire);
        var responses = await FetchAsync(wires, skipDown, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < list.Count; i++)
        {
            if (responses[i].WonRecache)
            {
                await GiveBackRecacheTokenAsync(list[i], wires[i], responses[i], cancellationToken).ConfigureAwait(false); // rare: invalidated items only
            }
        }

        var now = Now();
        for (var i = 0; i < list.Count; i++)
        {
            if (responses[i].Code == MetaResponseCode.Value && IsLive(responses[i], now, out var expiresAt))
            {
                if (responses[i].IsOversize)
                {
                    // The batch has no per-key error: the whole call fails, as for a value that does not decode. The
                    // connection read past the item and stays in use.
                    throw TooLargeToRead(list[i], responses[i]);
                }

                _metrics?.RecordHitTimed(started);
                results[i] = new CacheResult<T>(Decode<T>(list[i], responses[i].ClientFlags, responses[i].Data!), expiresAt);
            }
            else
            {
                _metrics?.RecordMissTimed(started);
            }
        }

        return results;
    }

    /// <summary>Gets wire keys' items in one pipelined batch per node: one response per key at its index, a hit's with its value.</summary>
    private async ValueTask<MetaResponse[]> FetchAsync(List<string> wires, PartialBatchRead? skipDown, CancellationToken cancellationToken, bool withCas = false)
    {
        var responses = new MetaResponse[wires.Count];
        await ForEachNodeAsync(wires, (wires, responses, withCas), skipDown, static async (conn, batch, state, token) =>
        {
            for (var j = 0; j < batch.Count; j++)
            {
                state.responses[batch[j]] = default; // a part moved off a dead node keeps nothing from it
                MetaRequestWriter.WriteGet(conn.Request, state.wires[batch[j]], withValue: true, state.withCas, quiet: true, opaque: j);
            }

            MetaRequestWriter.WriteNoOp(conn.Request);
            await PipelineAsync(conn, batch.Count, (batch, state.responses), static (r, s) =>
            {
                if (r.Code != MetaResponseCode.Value)
                {
                    return false;
                }

                s.responses[s.batch[r.Opaque]] = r;
                return true;
            }, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return responses;
    }

    /// <inheritdoc />
    public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        var materialized = items.ToList();
        var keys = ValidateKeys(materialized.Select(i => i.Key));
        var last = new Dictionary<string, T>(keys.Count, StringComparer.Ordinal);
        foreach (var item in materialized)
        {
            last[item.Key] = item.Value;
        }

        var wires = keys.ConvertAll(ToWire);
        var values = new byte[keys.Count][];
        for (var i = 0; i < keys.Count; i++)
        {
            values[i] = EncodeChecked(keys[i], wires[i], last[keys[i]], ttl);
        }

        if (keys.Count == 0)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this); // as every call after DisposeAsync, an empty one too
            return;
        }

        var exptime = ToExptime(ttl);
        await ForEachNodeAsync(wires, (wires, values, exptime), skipDown: null, static async (conn, batch, state, token) =>
        {
            var markers = new ProgressMarkers();
            for (var j = 0; j < batch.Count; j++)
            {
                var i = batch[j];
                MetaRequestWriter.WriteSet(conn, state.wires[i], state.values[i], ClientFlags, state.exptime, quiet: true, opaque: j);
                markers.AddIfDue(conn);
            }

            MetaRequestWriter.WriteNoOp(conn.Request);
            await PipelineAsync(conn, batch.Count, 0, static (_, _) => false, token, markers.Count).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        for (var i = 0; i < keys.Count; i++)
        {
            _metrics?.RecordSet();
        }
    }

    /// <inheritdoc />
    /// <remarks>One pipelined <c>add</c> (meta set, mode E) per item, per node. When a batch is sent again (a fresh
    /// connection after the first lost its answers) and an item is then refused, the key may hold this very add from the
    /// first attempt: those keys are read back, and an item whose key holds its bytes counts as stored. An item refused
    /// because its key holds a value expired by its record is stored over it (see <see cref="MemcachedExpiry"/>).</remarks>
    async ValueTask<bool[]> IConditionalWriter.AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        var keys = CacheKeyRules.ValidateEach(items.Select(i => i.Key), _maxUserKeyBytes, allowSpaces: false);
        var wires = keys.ConvertAll(ToWire);
        var values = new byte[keys.Count][];
        for (var i = 0; i < keys.Count; i++)
        {
            values[i] = EncodeChecked(keys[i], wires[i], items[i].Value, ttl);
        }

        var notStored = new bool[keys.Count];
        if (keys.Count == 0)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this); // as every call after DisposeAsync, an empty one too
            return notStored;
        }

        var sent = new byte[keys.Count]; // 1 once sent, 2 once sent again
        await ForEachNodeAsync(wires, (wires, values, exptime: ToExptime(ttl), notStored, sent), skipDown: null, static async (conn, batch, state, token) =>
        {
            var markers = new ProgressMarkers();
            for (var j = 0; j < batch.Count; j++)
            {
                var i = batch[j];
                state.notStored[i] = false; // a part moved off a dead node keeps nothing from it
                state.sent[i] = (byte)Math.Min(state.sent[i] + 1, 2);
                MetaRequestWriter.WriteSet(conn, state.wires[i], state.values[i], ClientFlags, state.exptime, mode: (byte)'E', quiet: true, opaque: j);
                markers.AddIfDue(conn);
            }

            MetaRequestWriter.WriteNoOp(conn.Request);
            await PipelineAsync(conn, batch.Count, (batch, state.notStored), static (r, s) =>
            {
                if (r.Code != MetaResponseCode.NotStored)
                {
                    return false;
                }

                s.notStored[s.batch[r.Opaque]] = true;
                return true;
            }, token, markers.Count).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        await CountOwnAddsAsync(wires, values, notStored, sent, cancellationToken).ConfigureAwait(false);
        await ClaimExpiredManyAsync(wires, values, ToExptime(ttl), notStored, cancellationToken).ConfigureAwait(false);
        var stored = new bool[keys.Count];
        for (var i = 0; i < stored.Length; i++)
        {
            stored[i] = !notStored[i];
            if (stored[i])
            {
                _metrics?.RecordSet();
            }
        }

        return stored;
    }

    /// <summary>
    /// Clears <paramref name="notStored"/> for the items sent more than once whose key holds exactly their bytes (and
    /// flags): the add an earlier attempt made, whose answer was lost with its connection.
    /// </summary>
    private async ValueTask CountOwnAddsAsync(List<string> wires, byte[][] values, bool[] notStored, byte[] sent, CancellationToken cancellationToken)
    {
        List<int>? check = null;
        for (var i = 0; i < notStored.Length; i++)
        {
            if (notStored[i] && sent[i] > 1)
            {
                (check ??= []).Add(i);
            }
        }

        if (check is null)
        {
            return;
        }

        var responses = await FetchAsync(check.ConvertAll(i => wires[i]), skipDown: null, cancellationToken).ConfigureAwait(false);
        for (var k = 0; k < check.Count; k++)
        {
            var i = check[k];
            if (responses[k].Code == MetaResponseCode.Value && responses[k].ClientFlags == ClientFlags && responses[k].Data.AsSpan().SequenceEqual(values[i]))
            {
                notStored[i] = false;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = ValidateKeys(keys);
        if (list.Count == 0)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this); // as every call after DisposeAsync, an empty one too
            return 0;
        }

        // Not quiet: memcached 1.6.18 quiets only HD and still answers NF, but the protocol's "noreply semantics" let a
        // server drop NF too, and then "sent - NF" counted every missing key as removed. Every delete is answered, and
        // only the HD answers are counted, whichever replies a server's quiet mode would suppress.
        var wires = list.ConvertAll(ToWire);
        var answers = new MetaResponseCode[list.Count];
        await ForEachNodeAsync(wires, (wires, answers), skipDown: null, static async (conn, batch, state, token) =>
        {
            for (var j = 0; j < batch.Count; j++)
            {
                state.answers[batch[j]] = MetaResponseCode.None; // a part moved off a dead node keeps nothing from it
                MetaRequestWriter.WriteDelete(conn.Request, state.wires[batch[j]], opaque: j);
            }

            MetaRequestWriter.WriteNoOp(conn.Request);
            await PipelineAsync(conn, batch.Count, (batch, state.answers), static (r, s) =>
            {
                if (r.Code is not (MetaResponseCode.Stored or MetaResponseCode.NotFound) || s.answers[s.batch[r.Opaque]] != MetaResponseCode.None)
                {
                    return false; // not a delete's answer, or a second answer to one
                }

                s.answers[s.batch[r.Opaque]] = r.Code;
                return true;
            }, token).ConfigureAwait(false);

            foreach (var i in batch)
            {
                if (state.answers[i] == MetaResponseCode.None)
                {
                    throw new MemcachedProtocolException("A delete of the batch went unanswered before the closing MN.");
                }
            }
        }, cancellationToken).ConfigureAwait(false);

        var removed = answers.Count(a => a == MetaResponseCode.Stored);
        for (var i = 0; i < removed; i++)
        {
            _metrics?.RecordDelete();
        }

        return removed;
    }

    /// <summary>Groups keys by node and runs <paramref name="body"/> once per node, in parallel. Every batch (get, set, delete) is idempotent, so may be retried on a fresh connection.</summary>
    private Task ForEachNodeAsync<TState>(List<string> wires, TState state, PartialBatchRead? skipDown, Func<MemcachedConnection, List<int>, TState, CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var all = new List<int>(wires.Count);
        for (var i = 0; i < wires.Count; i++)
        {
            all.Add(i);
        }

        return RunGroupedAsync(wires, all, state, skipDown, body, hops: 0, cancellationToken);
    }

    /// <summary>Runs <paramref name="body"/> once per node owning some of <paramref name="indexes"/>, in parallel.</summary>
    private async Task RunGroupedAsync<TState>(List<string> wires, List<int> indexes, TState state, PartialBatchRead? skipDown, Func<MemcachedConnection, List<int>, TState, CancellationToken, Task> body, int hops, CancellationToken cancellationToken)
    {
        var groups = new Dictionary<MemcachedNode, List<int>>();
        foreach (var i in indexes)
        {
            var node = Locate(wires[i]);
            if (!groups.TryGetValue(node, out var batch))
            {
                groups[node] = batch = [];
            }

            batch.Add(i);
        }

        var tasks = new List<Task>(groups.Count);
        foreach (var (node, batch) in groups)
        {
            tasks.Add(RunBatchOnNodeAsync(node, wires, batch, state, skipDown, body, hops, cancellationToken));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    /// <summary>
    /// One node's part of a batch. Under <see cref="MemcachedFailoverPolicy.Redistribute"/>, a part whose node was found
    /// dead during the call (and marked down by it) is regrouped over the live nodes, as a single-key call would be.
    /// </summary>
    private async Task RunBatchOnNodeAsync<TState>(MemcachedNode node, List<string> wires, List<int> batch, TState state, PartialBatchRead? skipDown, Func<MemcachedConnection, List<int>, TState, CancellationToken, Task> body, int hops, CancellationToken cancellationToken)
    {
        // A stall timeout (see MemcachedCacheOptions.OperationTimeout): it restarts on every byte moved, so only the
        // silence allowed grows with the keys (misses of a quiet get answer nothing), never with the bytes.
        var timeout = TimeSpan.FromTicks(Math.Min(_options.OperationTimeout.Ticks * (1 + (batch.Count / KeysPerTimeout)), MaxStallWindow.Ticks));
        try
        {
            await RunOnNodeAsync(node, null, (batch, state, body, self: this, node), timeout, idempotent: true, static async (conn, s, token) =>
            {
                try
                {
                    await s.body(conn, s.batch, s.state, token).ConfigureAwait(false);
                }
                catch (BatchErrorException ex)
                {
                    s.self.LogErrorLine(s.node, ex.Response);
                    throw s.self.ErrorFor(ex.Response, null);
                }

                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (CacheConnectionException) when (Redistributes && node.IsDown() && hops < _nodes.Length - 1)
        {
            await RunGroupedAsync(wires, batch, state, skipDown, body, hops + 1, cancellationToken).ConfigureAwait(false);
        }
        catch (CacheException ex) when (skipDown is not null && PartialOutage.Is(ex))
        {
            skipDown.Unanswered(batch);
            // The node is down (marked, or its connection just failed) or hung while others serve: the caller reads its
            // part as misses. Batches here are reads, so a part that may have reached the node changed nothing.
        }
    }

    /// <summary>
    /// Sends the request buffer while reading responses up to the last <c>MN</c>. <paramref name="accept"/> takes the
    /// responses the batch expects (it gets them with a checked opaque index); anything else is an error.
    /// </summary>
    /// <param name="conn">The connection, its request written.</param>
    /// <param name="count">The number of requests in the batch (opaque indexes 0 to count - 1).</param>
    /// <param name="state">The state for <paramref name="accept"/>.</param>
    /// <param name="accept">Takes one expected response; false for an unexpected one.</param>
    /// <param name="token">The operation's token.</param>
    /// <param name="markers">The <c>mn</c> progress markers written inside the request (see <see cref="ProgressMarkers"/>), before the closing one.</param>
    private static async Task PipelineAsync<TState>(MemcachedConnection conn, int count, TState state, Func<MetaResponse, TState, bool> accept, CancellationToken token, int markers = 0)
    {
        var send = conn.SendAsync(token).AsTask();
        try
        {
            while (true)
            {
                var response = await conn.ReadAsync(token).ConfigureAwait(false);
                if (response.Code == MetaResponseCode.NoOp)
                {
                    if (markers-- == 0)
                    {
                        break;
                    }

                    continue;
                }

                if (response.IsError)
                {
                    throw new BatchErrorException(response);
                }

                if (response.Opaque < 0 || response.Opaque >= count || !accept(response, state))
                {
                    throw new MemcachedProtocolException($"A pipelined response ({response.Code}) does not match a request of the batch.");
                }
            }

            await send.ConfigureAwait(false);
        }
        catch
        {
            conn.Abort();
            await send.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
    }
}
