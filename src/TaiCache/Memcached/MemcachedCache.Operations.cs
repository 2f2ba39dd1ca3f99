using System.Buffers.Text;
using TaiCache.Memcached.Protocol;

namespace TaiCache.Memcached;

/// <summary>The memcached operations beyond <see cref="ICacheOps"/>.</summary>
public sealed partial class MemcachedCache
{
    /// <summary>Stores a value only when the key holds none (memcached <c>add</c>).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for the default.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns><see langword="true"/> when stored (also over a value expired by its record that the server still held); <see langword="false"/> when the key already held a live value.</returns>
    public async ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        await StoreAsync(key, value, ttl, (byte)'E', 0, cancellationToken).ConfigureAwait(false) == MetaResponseCode.Stored;

    /// <summary>Stores a value only when the key already holds one (memcached <c>replace</c>).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for the default.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns><see langword="true"/> when replaced; <see langword="false"/> when the key held nothing.</returns>
    /// <remarks>memcached keeps an item a second or two past its TTL (see <see cref="MemcachedExpiry"/>): in those seconds a
    /// TaiCache value that reads as expired is still replaced, as memcached's replace sees it.</remarks>
    public async ValueTask<bool> ReplaceAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        await StoreAsync(key, value, ttl, (byte)'R', 0, cancellationToken).ConfigureAwait(false) == MetaResponseCode.Stored;

    /// <summary>Reads a value with its CAS token, for a later <see cref="CompareAndSwapAsync{T}"/>.</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns>The value and token, or a result with <see cref="MemcachedCasResult{T}.HasValue"/> false.</returns>
    /// <exception cref="CacheException">The server has CAS disabled (<c>memcached -C</c>): it answers no token.</exception>
    public async ValueTask<MemcachedCasResult<T>> GetWithCasAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var wire = WireKey(key);
        var started = _metrics?.StartTimingAlways() ?? 0;
        var response = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, withCas: true, opaque: o), cancellationToken).ConfigureAwait(false);
        await GiveBackRecacheTokenAsync(key, wire, response, cancellationToken).ConfigureAwait(false);
        var result = ToResult<T>(key, response, started);
        if (result.HasValue && response.Cas == 0)
        {
            // memcached -C answers every item with token 0, which no compare-and-swap can use: say so, rather than
            // hand out a token CompareAndSwapAsync refuses.
            throw new CacheException(
                $"The server holding {TaiCacheDiagnostics.DescribeKey(key)} has CAS disabled (memcached -C): it returns no CAS token, so GetWithCasAsync and CompareAndSwapAsync cannot be used with it.",
                key);
        }

        return result.HasValue ? new MemcachedCasResult<T>(result.Value, response.Cas) : default;
    }

    /// <summary>Stores a value only if the item is unchanged since it was read with <paramref name="cas"/> (memcached <c>cas</c>).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="cas">The token from <see cref="GetWithCasAsync{T}"/>; must not be 0.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for the default.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns><see langword="true"/> when stored; <see langword="false"/> when the item changed or vanished meanwhile.</returns>
    /// <exception cref="CacheConnectionException">The key's node failed. Under <see cref="MemcachedFailoverPolicy.Redistribute"/> a
    /// compare-and-swap whose node is found dead is not sent to the next node, as other calls are: its CAS token is the
    /// issuing server's. Read the item again with <see cref="GetWithCasAsync{T}"/> (served by the next node while this one
    /// is down) and retry with that token.</exception>
    public async ValueTask<bool> CompareAndSwapAsync<T>(string key, T value, ulong cas, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(cas);
        try
        {
            return await StoreAsync(key, value, ttl, 0, cas, cancellationToken).ConfigureAwait(false) == MetaResponseCode.Stored;
        }
        catch (CacheConnectionException ex) when (Redistributes && _locator!.Locate(ToWire(key)).IsDown())
        {
            throw new CacheConnectionException(
                $"{ex.Message} Under MemcachedFailoverPolicy.Redistribute a compare-and-swap is not sent to another node: its CAS token is node-specific (only the server that issued it can compare it). Read the item again with GetWithCasAsync, which the next node serves while this one is down, and retry with that token.",
                key,
                ex)
            {
                IsPartialOutage = ex.IsPartialOutage,
            };
        }
    }

    /// <summary>Adds to a counter, creating it at <paramref name="initialValue"/> when missing (memcached <c>ma</c> with <c>N</c>/<c>J</c>).</summary>
    /// <param name="key">The key.</param>
    /// <param name="delta">The amount to add.</param>
    /// <param name="initialValue">The value a missing counter is created with (the delta is not added to it).</param>
    /// <param name="ttl">Time to live of a counter this call creates; an existing counter keeps its expiry.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns>The counter's new value (64-bit, wrapping as memcached does).</returns>
    /// <exception cref="CacheWrongTypeException">The key holds a value that is not a decimal number (for example a live TaiCache-encoded value).</exception>
    /// <remarks>A TaiCache value that has expired by its record, but that memcached still holds for its last second or
    /// two, reads as missing: the counter is created at <paramref name="initialValue"/> over it (if unchanged since read,
    /// by compare-and-swap), as for a missing key.</remarks>
    public ValueTask<ulong> IncrementAsync(string key, ulong delta = 1, ulong initialValue = 0, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        ArithmeticAsync(key, delta, initialValue, ttl, decrement: false, cancellationToken);

    /// <summary>Subtracts from a counter, creating it at <paramref name="initialValue"/> when missing; memcached stops at 0.</summary>
    /// <param name="key">The key.</param>
    /// <param name="delta">The amount to subtract.</param>
    /// <param name="initialValue">The value a missing counter is created with.</param>
    /// <param name="ttl">Time to live of a counter this call creates.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns>The counter's new value, never below 0.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds a value that is not a decimal number.</exception>
    public ValueTask<ulong> DecrementAsync(string key, ulong delta = 1, ulong initialValue = 0, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        ArithmeticAsync(key, delta, initialValue, ttl, decrement: true, cancellationToken);

    /// <summary>Invalidates every item on every server (memcached <c>flush_all</c>), whatever its prefix. Not for shared servers.</summary>
    /// <param name="cancellationToken">Cancels the wait for the servers.</param>
    /// <returns>A task that completes when every server has answered.</returns>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var tasks = _nodes.Select(node => RunOnNodeAsync(node, null, this, _options.OperationTimeout, idempotent: true, static async (conn, self, token) =>
        {
            MetaRequestWriter.WriteFlushAll(conn.Request);
            await conn.SendAsync(token).ConfigureAwait(false);
            var response = await conn.ReadAsync(token).ConfigureAwait(false);
            self.Expect(response, null, MetaResponseCode.Ok);
            return true;
        }, cancellationToken).AsTask());
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    /// <summary>Reads every server's statistics (memcached <c>stats</c>: items, bytes, hits, misses, evictions), each and summed.</summary>
    /// <param name="cancellationToken">Cancels the wait for the servers.</param>
    /// <returns>The statistics.</returns>
    /// <exception cref="CacheConnectionException">A server could not be reached; the message names it.</exception>
    /// <exception cref="CacheTimeoutException">A server did not answer within <see cref="MemcachedCacheOptions.OperationTimeout"/>.</exception>
    /// <exception cref="CacheException">A server refused <c>stats</c> with an error line; the message names the server and the line.</exception>
    public async ValueTask<MemcachedCacheStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var tasks = _nodes.Select(node => RunOnNodeAsync(node, null, (self: this, node), _options.OperationTimeout, idempotent: true, static async (conn, s, token) =>
        {
            MetaRequestWriter.WriteStats(conn.Request);
            await conn.SendAsync(token).ConfigureAwait(false);
            var (stats, refusal) = await conn.ReadStatsAsync(token).ConfigureAwait(false);
            if (refusal.IsError)
            {
                // Answered in step (the connection stays in the pool): a server error, not a malformed response.
                s.self.LogErrorLine(s.node, refusal);
                throw s.self.StatsRefused(s.node, refusal);
            }

            return stats;
        }, cancellationToken).AsTask()).ToArray();
        await Task.WhenAll(tasks).ConfigureAwait(false);

        var servers = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        long items = 0, bytes = 0, limit = 0, hits = 0, misses = 0, evictions = 0, connections = 0;
        for (var i = 0; i < _nodes.Length; i++)
        {
            var stats = tasks[i].Result;
            servers[_nodes[i].Name] = stats;
            items += Stat(stats, "curr_items");
            bytes += Stat(stats, "bytes");
            limit += Stat(stats, "limit_maxbytes");
            hits += Stat(stats, "get_hits");
            misses += Stat(stats, "get_misses");
            evictions += Stat(stats, "evictions");
            connections += Stat(stats, "curr_connections");
        }

        return new MemcachedCacheStatistics
        {
            Servers = servers,
            CurrentItems = items,
            Bytes = bytes,
            LimitMaxBytes = limit,
            GetHits = hits,
            GetMisses = misses,
            Evictions = evictions,
            CurrentConnections = connections,
        };
    }

    private CacheException StatsRefused(MemcachedNode node, in MetaResponse refusal)
    {
        _metrics?.RecordError();
        var line = refusal.Code switch
        {
            MetaResponseCode.ClientError => "CLIENT_ERROR",
            MetaResponseCode.ServerError => "SERVER_ERROR",
            _ => "ERROR",
        };
        var reply = string.IsNullOrEmpty(refusal.ErrorMessage) ? line : line + " " + refusal.ErrorMessage;
        return new CacheException($"The memcached node {node.Name} refused 'stats': {reply}");
    }

    private static long Stat(Dictionary<string, string> stats, string name) =>
        stats.TryGetValue(name, out var text) && long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;

    private async ValueTask<ulong> ArithmeticAsync(string key, ulong delta, ulong initialValue, TimeSpan? ttl, bool decrement, CancellationToken cancellationToken)
    {
        var wire = WireKey(key);
        CacheKeyRules.ValidateTtl(ttl);
        var exptime = ToExptime(ttl);
        MetaResponse response;
        var attempt = 0;
        while (true)
        {
            response = await RoundTripAsync(key, wire, (delta, initialValue, exptime, decrement), MemcachedRequestKind.Once, static (w, k, o, s) => MetaRequestWriter.WriteArithmetic(w, k, s.delta, s.initialValue, s.exptime, s.decrement, o), cancellationToken).ConfigureAwait(false);
            if (response.Code != MetaResponseCode.ClientError || !IsNonNumeric(response) || ++attempt > ExpireAttempts)
            {
                break;
            }

            // Refused as not a number: the key may hold a TaiCache value that has expired by its record but that
            // memcached keeps for a second or two. Such a key reads as empty, so the counter is created over it.
            var claimed = await ClaimExpiredForCounterAsync(key, wire, initialValue, exptime, cancellationToken).ConfigureAwait(false);
            if (claimed is null)
            {
                break; // a live value, or one that is not TaiCache's: not a number
            }

            if (claimed.Value)
            {
                return initialValue;
            }

            // Changed or gone meanwhile: try the update again.
        }

        Expect(response, key, MetaResponseCode.Value);
        if (!Utf8Parser.TryParse(response.Data, out ulong value, out var used) || used != response.Data!.Length)
        {
            throw new CacheException($"memcached answered a counter update on {TaiCacheDiagnostics.DescribeKey(key)} with a value that is not a number.", key);
        }

        return value;
    }
}
