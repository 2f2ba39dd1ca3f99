using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using TaiCache.Memcached.Protocol;
using TaiCache.Serialization;

namespace TaiCache.Memcached;

/// <summary>Keys, TTLs, values and the round trip to one node.</summary>
public sealed partial class MemcachedCache
{
    // What a hashed key is sent as, after the prefix: the marker, then the hex of the key's SHA-256.
    private const string HashedKeyMarker = "sha256:";

    // The failures of RunOnNodeAsync that came before any byte of the request was sent (at connection checkout).
    private static readonly ConditionalWeakTable<Exception, string> FailedUnsent = new();

    /// <summary>Validates a key and returns the key as sent: prefixed, and hashed when too long and hashing is on.</summary>
    private string WireKey(string key, [CallerArgumentExpression(nameof(key))] string? paramName = null)
    {
        CacheKeyRules.Validate(key, _maxUserKeyBytes, allowSpaces: false, paramName);
        return ToWire(key);
    }

    private string ToWire(string key)
    {
        var full = _prefix.Length == 0 ? key : string.Concat(_prefix, key);

        // A key that starts with the marker is hashed too: sent as is, "sha256:<hex of some long key's hash>" would
        // name that long key's item.
        if (_options.HashLongKeys && (full.Length > MemcachedCacheOptions.MaxKeyBytes || key.StartsWith(HashedKeyMarker, StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(full) > MemcachedCacheOptions.MaxKeyBytes))
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
            full = string.Concat(_prefix, HashedKeyMarker, Convert.ToHexStringLower(hash));
        }

        return full;
    }

    private List<string> ValidateKeys(IEnumerable<string> keys) =>
        CacheKeyRules.ValidateAll(keys, _maxUserKeyBytes, allowSpaces: false);

    /// <summary>
    /// Converts a TTL to memcached's exptime: whole seconds, rounded up, plus <see cref="MemcachedExpiry.ExtraSeconds"/>
    /// (memcached may drop an item up to a second before its exptime); over 30 days, an absolute unix time.
    /// </summary>
    internal long ToExptime(TimeSpan? ttl)
    {
        var t = ttl ?? _options.DefaultTtl;
        if (t is null)
        {
            return 0;
        }

        var seconds = Math.Max((long)Math.Ceiling(t.Value.TotalSeconds), 1) + MemcachedExpiry.ExtraSeconds;

        if (seconds <= ThirtyDaysSeconds)
        {
            return seconds;
        }

        var absolute = _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds() + seconds;
        return Math.Min(absolute, int.MaxValue);
    }

    /// <summary>When a value stored now with <paramref name="ttl"/> expires (Unix ms, 0 for never): no later than memcached
    /// keeps it (its exptime stops at 2038-01-19, see <see cref="ToExptime"/>), so no tier above keeps a copy longer.</summary>
    private long ExpiryFor(TimeSpan? ttl) => ttl is null ? 0 : Math.Min(CacheValueCodec.ExpiryFor(ttl, _options.TimeProvider), int.MaxValue * 1000L);

    private byte[] EncodeChecked<T>(string key, string wire, T value, TimeSpan? ttl)
    {
        var bytes = _codec.Encode(key, value, ExpiryFor(ttl ?? _options.DefaultTtl));
        var wireBytes = Encoding.UTF8.GetByteCount(wire);
        if (bytes.Length + wireBytes + MemcachedCacheOptions.ItemOverheadBytes > _options.MaxItemBytes)
        {
            throw new CacheValueTooLargeException(
                $"The value for {TaiCacheDiagnostics.DescribeKey(key)} is {bytes.Length} bytes encoded; with the key and memcached's item header it exceeds the {_options.MaxItemBytes}-byte item limit (MemcachedCacheOptions.MaxItemBytes). Nothing was sent.",
                key);
        }

        return bytes;
    }

    private T Decode<T>(string key, uint flags, byte[] data)
    {
        if (flags == ClientFlags)
        {
            return _codec.Decode<T>(key, data);
        }

        if (flags == 0 && PlainCounter.TryRead<T>(data, padded: true, out var counter))
        {
            return counter;
        }

        if (flags == 0 && PlainCounter.Unrepresentable<T>(key, data, padded: true) is { } overflow)
        {
            throw overflow;
        }

        throw new CacheSerializationException(
            $"The item under {TaiCacheDiagnostics.DescribeKey(key)} was not written by TaiCache (client flags 0x{flags:x8}, {data.Length} bytes) and cannot be read as {typeof(T).Name}.",
            key);
    }

    private CacheResult<T> ToResult<T>(string key, MetaResponse response, long started)
    {
        if (Expect(response, key, MetaResponseCode.Value, MetaResponseCode.Miss) == MetaResponseCode.Miss || !IsLive(response, Now(), out var expiresAt))
        {
            _metrics?.RecordMissTimed(started);
            return CacheResult<T>.Miss;
        }

        if (response.IsOversize)
        {
            throw TooLargeToRead(key, response);
        }

        _metrics?.RecordHitTimed(started);
        return new CacheResult<T>(Decode<T>(key, response.ClientFlags, response.Data!), expiresAt);
    }

    /// <summary>
    /// The error for an item larger than <see cref="MemcachedCacheOptions.MaxItemBytes"/> (written by a client with a
    /// larger limit, where the server's <c>-I</c> is larger): a data error, not a connection failure; its bytes were
    /// discarded and the connection is fine.
    /// </summary>
    private CacheValueTooLargeException TooLargeToRead(string key, in MetaResponse response)
    {
        _metrics?.RecordError();
        return new CacheValueTooLargeException(
            $"The item under {TaiCacheDiagnostics.DescribeKey(key)} is {response.OversizeBytes} bytes, more than the {_options.MaxItemBytes}-byte item limit this cache reads (MemcachedCacheOptions.MaxItemBytes); another client with a larger limit wrote it. Its bytes were discarded unread. Set MaxItemBytes to the server's -I to read such items.",
            key);
    }

    /// <summary>Whether a value the server returned is live (see <see cref="MemcachedExpiry"/>), and when it expires.</summary>
    private static bool IsLive(in MetaResponse response, long nowUnixMs, out long expiresAtUnixMs)
    {
        if (response.IsStale)
        {
            // Another meta client invalidated it (md key I): memcached still serves it, flagged X, only for a refill.
            expiresAtUnixMs = 0;
            return false;
        }

        var recorded = response.ClientFlags == ClientFlags ? CacheValueCodec.RecordedExpiry(response.Data) : 0;
        return MemcachedExpiry.IsLive(recorded, response.RemainingTtl, nowUnixMs, out expiresAtUnixMs);
    }

    private long Now() => _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private async ValueTask<MetaResponseCode> StoreAsync<T>(string key, T value, TimeSpan? ttl, byte mode, ulong cas, CancellationToken cancellationToken)
    {
        var wire = WireKey(key);
        CacheKeyRules.ValidateTtl(ttl);
        var data = EncodeChecked(key, wire, value, ttl);
        var exptime = ToExptime(ttl);
        // A plain set is idempotent; add and replace answer differently the second time; a CAS token is its node's.
        var kind = cas != 0 ? MemcachedRequestKind.NodeBound : mode != 0 ? MemcachedRequestKind.Once : MemcachedRequestKind.Idempotent;
        var response = await RoundTripAsync(key, wire, (data, exptime, mode, cas), kind, static (w, k, o, s) => MetaRequestWriter.WriteSet(w, k, s.data, ClientFlags, s.exptime, s.mode, s.cas, opaque: o), cancellationToken).ConfigureAwait(false);
        var code = Expect(response, key, MetaResponseCode.Stored, MetaResponseCode.NotStored, MetaResponseCode.Exists, MetaResponseCode.NotFound);
        if (code == MetaResponseCode.NotStored && mode == (byte)'E' && await ClaimExpiredAsync(key, wire, data, exptime, cancellationToken).ConfigureAwait(false))
        {
            code = MetaResponseCode.Stored;
        }

        if (code == MetaResponseCode.Stored)
        {
            _metrics?.RecordSet();
        }

        return code;
    }

    /// <summary>Checks a response is one of the expected codes; maps error lines to TaiCache exceptions.</summary>
    private MetaResponseCode Expect(in MetaResponse response, string? key, MetaResponseCode a, MetaResponseCode b = MetaResponseCode.None, MetaResponseCode c = MetaResponseCode.None, MetaResponseCode d = MetaResponseCode.None)
    {
        var code = response.Code;
        if (code == a || (code != MetaResponseCode.None && (code == b || code == c || code == d)))
        {
            return code;
        }

        throw ErrorFor(response, key);
    }

    private CacheException ErrorFor(in MetaResponse response, string? key)
    {
        _metrics?.RecordError();
        var message = response.ErrorMessage ?? string.Empty;
        var who = key is null ? "the request" : TaiCacheDiagnostics.DescribeKey(key);
        return response.Code switch
        {
            MetaResponseCode.ClientError when IsNonNumeric(response) =>
                new CacheWrongTypeException($"The item under {who} does not hold a number, so it cannot be incremented or decremented (memcached: {message}).", key),
            MetaResponseCode.ServerError when message.Contains("too large", StringComparison.OrdinalIgnoreCase) =>
                new CacheValueTooLargeException($"memcached refused the value for {who} as too large for its item size limit ({message}); lower the value size or raise memcached -I and MaxItemBytes together.", key),
            MetaResponseCode.ClientError or MetaResponseCode.ServerError or MetaResponseCode.Error =>
                new CacheException($"memcached refused the operation on {who}: {response.Code} {message}".TrimEnd(), key),
            _ => new CacheException($"memcached answered {response.Code} for the operation on {who}, which this operation does not expect.", key),
        };
    }

    /// <summary>Logs an error line a node answered (event 2003), except the refusal of an increment on a value that is not a
    /// number, which is the caller's <see cref="CacheWrongTypeException"/> (or the start of a claim over an expired value).</summary>
    private void LogErrorLine(MemcachedNode node, in MetaResponse response)
    {
        if (IsNonNumeric(response))
        {
            return;
        }

        var line = response.Code switch
        {
            MetaResponseCode.ClientError => "CLIENT_ERROR",
            MetaResponseCode.ServerError => "SERVER_ERROR",
            _ => "ERROR",
        };
        Log.ServerErrorLine(_logger, node.Name, string.IsNullOrEmpty(response.ErrorMessage) ? line : line + " " + response.ErrorMessage);
    }

    /// <summary>Whether memcached refused an increment or decrement because the item is not a number.</summary>
    private static bool IsNonNumeric(in MetaResponse response) =>
        response.Code == MetaResponseCode.ClientError && (response.ErrorMessage ?? string.Empty).Contains("non-numeric", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether keys of a node marked down go to the next live node (several nodes, <see cref="MemcachedFailoverPolicy.Redistribute"/>).</summary>
    private bool Redistributes => _locator is not null && _options.FailoverPolicy == MemcachedFailoverPolicy.Redistribute;

    private MemcachedNode Locate(string wire)
    {
        if (_locator is null)
        {
            return _nodes[0];
        }

        if (_options.FailoverPolicy == MemcachedFailoverPolicy.FailFast)
        {
            return _locator.Locate(wire);
        }

        return _locator.Locate(wire, static n => !n.IsDown())
            ?? throw new CacheConnectionException("Every memcached node is marked down; operations fail until one answers again.");
    }

    /// <summary>
    /// One request, one response, on the key's node. <c>idempotent</c> tells whether sending the request twice leaves the
    /// same state as once (get, touch, set, delete): only such requests are retried after their bytes may have reached
    /// the server (see <see cref="RunOnNodeAsync"/>).
    /// </summary>
    private ValueTask<MetaResponse> RoundTripAsync<TState>(string key, string wire, TState state, bool idempotent, Action<IBufferWriter<byte>, string, int, TState> write, CancellationToken cancellationToken) =>
        RoundTripAsync(key, wire, state, idempotent ? MemcachedRequestKind.Idempotent : MemcachedRequestKind.NodeBound, write, cancellationToken);

    /// <summary>One request, one response, on the key's node; <paramref name="kind"/> says whether it may be retried or moved after a failure.</summary>
    private ValueTask<MetaResponse> RoundTripAsync<TState>(string key, string wire, TState state, MemcachedRequestKind kind, Action<IBufferWriter<byte>, string, int, TState> write, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var node = Locate(wire);
        var run = RunOnNodeAsync(node, key, (wire, state, write), _options.OperationTimeout, kind == MemcachedRequestKind.Idempotent, RoundTripBody, cancellationToken);
        return kind != MemcachedRequestKind.NodeBound && Redistributes && !run.IsCompletedSuccessfully
            ? RedistributeOnFailureAsync(run, node, key, (wire, state, write), kind, cancellationToken)
            : run;
    }

    /// <summary>
    /// Under <see cref="MemcachedFailoverPolicy.Redistribute"/>, a request whose node was found dead during the call (and
    /// marked down by it) goes to the next live node instead of failing, as it would once the node is known to be down:
    /// an idempotent one always, an add, replace or counter update only when none of its bytes was sent (the failure
    /// came at connection checkout: a refused connect, or a node marked down meanwhile).
    /// </summary>
    private async ValueTask<MetaResponse> RedistributeOnFailureAsync<TState>(ValueTask<MetaResponse> first, MemcachedNode node, string key, (string Wire, TState State, Action<IBufferWriter<byte>, string, int, TState> Write) request, MemcachedRequestKind kind, CancellationToken cancellationToken)
    {
        try
        {
            return await first.ConfigureAwait(false);
        }
        catch (CacheConnectionException ex) when (node.IsDown() && _nodes.Length > 1 && (kind == MemcachedRequestKind.Idempotent || FailedUnsent.TryGetValue(ex, out _)))
        {
            var next = Locate(request.Wire);
            return await RunOnNodeAsync(next, key, request, _options.OperationTimeout, kind == MemcachedRequestKind.Idempotent, RoundTripBody, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask<MetaResponse> RoundTripBody<TState>(MemcachedConnection conn, (string wire, TState state, Action<IBufferWriter<byte>, string, int, TState> write) s, CancellationToken token)
    {
        var opaque = conn.NextOpaque();
        s.write(conn.Request, s.wire, opaque, s.state);
        await conn.SendAsync(token).ConfigureAwait(false);
        var response = await conn.ReadAsync(token).ConfigureAwait(false);
        if (!response.IsError && response.Opaque != opaque)
        {
            throw new MemcachedProtocolException("A response does not echo its request's opaque number; the stream is out of step.");
        }

        return response;
    }

    /// <summary>
    /// Rents a connection on <paramref name="node"/>, runs <paramref name="body"/> under the stall timeout
    /// <paramref name="timeout"/> (the longest it may go without sending or receiving a byte; see
    /// <see cref="MemcachedCacheOptions.OperationTimeout"/>), and turns failures into TaiCache exceptions.
    /// </summary>
    /// <remarks>
    /// <para>A connection that comes from the pool may have died while idle (server restart, network cut) in a way the
    /// checkout poll could not see yet. When such a connection fails with an I/O error before any response byte was
    /// read, <paramref name="body"/> runs once more on a freshly opened connection to the same node, provided that is
    /// safe: always for <paramref name="idempotent"/> operations, and for the others only if no request byte was sent.
    /// If the fresh connection fails too, the node is marked down.</para>
    /// <para>Non-idempotent operations (increment, decrement, add, replace, compare-and-swap) are not retried once their
    /// send has started, even on a connection that had been idle. A failed write on an idle connection usually means the
    /// peer was already gone and nothing was delivered, but the socket API does not say how much of a request the kernel
    /// accepted before the error, and an error seen while reading the response cannot tell "never arrived" from "applied,
    /// then the server died". Counting twice is worse than one failed call, so those surface as
    /// <see cref="CacheConnectionException"/>. The common case, a connection the server closed while it sat in the pool,
    /// is caught before anything is written by the checkout poll in <see cref="MemcachedNode.RentAsync"/>, so a restart
    /// does not fail these operations either.</para>
    /// </remarks>
    private async ValueTask<TResult> RunOnNodeAsync<TState, TResult>(MemcachedNode node, string? key, TState state, TimeSpan timeout, bool idempotent, Func<MemcachedConnection, TState, CancellationToken, ValueTask<TResult>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        MemcachedConnection conn;
        try
        {
            conn = await node.RentAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (CacheException ex)
        {
            _metrics?.RecordError();
            FailedUnsent.AddOrUpdate(ex, "unsent");
            throw;
        }

        var sent = false;
        while (true)
        {
            var retry = false;
            try
            {
                var generation = node.Generation;
                var token = conn.Begin(timeout, cancellationToken, out var registration);
                try
                {
                    var result = await body(conn, state, token).ConfigureAwait(false);
                    conn.Generation = generation; // answered after the last failure known when it started: not suspect
                    node.ReportSuccess();
                    if (result is MetaResponse { IsError: true } error)
                    {
                        LogErrorLine(node, error);
                    }

                    return result;
                }
                catch (Exception ex) when (IsRetryable(ex, conn, idempotent, cancellationToken))
                {
                    conn.MarkBroken();
                    node.ReportConnectionFailure(ex.Message);
                    Log.RetryingOnFreshConnection(_logger, node.Name, ex.Message);
                    sent |= conn.SendStarted;
                    retry = true;
                }
                catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
                {
                    // The I/O was cancelled through the connection's own token (the caller's is linked to it): the
                    // exception carries the caller's, so "when (e.CancellationToken == myToken)" filters work.
                    conn.MarkBroken();
                    throw new OperationCanceledException(ex.Message, ex, cancellationToken);
                }
                catch (OperationCanceledException ex)
                {
                    conn.MarkBroken();
                    node.ReportTimeout();
                    _metrics?.RecordError();
                    throw new CacheTimeoutException($"The memcached node {node.Name} made no progress on the operation on {Describe(key)} for {timeout.TotalMilliseconds:0} ms (no request byte taken, no response byte received); the connection was closed.", key, ex)
                    {
                        IsPartialOutage = node.PartialOutage,
                    };
                }
                catch (MemcachedProtocolException ex)
                {
                    conn.MarkBroken();
                    node.ReportConnectionFailure(ex.Message);
                    _metrics?.RecordError();
                    throw new CacheConnectionException($"The memcached node {node.Name} sent a malformed response to the operation on {Describe(key)} ({ex.Message}); the connection was closed.", key, ex)
                    {
                        IsPartialOutage = node.PartialOutage, // one node's connection broke, as for a reset
                    };
                }
                catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
                {
                    conn.MarkBroken();
                    if (conn.ReplacesFailed)
                    {
                        node.ReportReplacementFailure(ex.Message);
                    }
                    else
                    {
                        if (!idempotent && conn.FromPool && conn.SendStarted && !conn.ResponseStarted)
                        {
                            Log.NotRetriedNotIdempotent(_logger, node.Name, ex.Message);
                        }

                        node.ReportConnectionFailure(ex.Message);
                    }

                    _metrics?.RecordError();
                    throw new CacheConnectionException($"The connection to the memcached node {node.Name} failed during the operation on {Describe(key)}: {ex.Message}", key, ex)
                    {
                        IsPartialOutage = node.PartialOutage,
                    };
                }
                finally
                {
                    conn.End(registration);
                }
            }
            finally
            {
                if (!retry)
                {
                    node.Return(conn);
                }
            }

            try
            {
                conn = await node.ReconnectAsync(conn, key, cancellationToken).ConfigureAwait(false);
            }
            catch (CacheException ex)
            {
                _metrics?.RecordError();
                if (!sent)
                {
                    FailedUnsent.AddOrUpdate(ex, "unsent");
                }

                throw;
            }
        }
    }

    /// <summary>
    /// Whether a failure may be retried on a fresh connection: an I/O error on a connection that came from the pool,
    /// before any response byte, on its first use in this operation, and either idempotent or not yet sent.
    /// </summary>
    private static bool IsRetryable(Exception ex, MemcachedConnection conn, bool idempotent, CancellationToken cancellationToken) =>
        ex is IOException or SocketException
        && conn.FromPool
        && !conn.ReplacesFailed
        && !conn.ResponseStarted
        && (idempotent || !conn.SendStarted)
        && !cancellationToken.IsCancellationRequested;

    private static string Describe(string? key) => key is null ? "a batch" : TaiCacheDiagnostics.DescribeKey(key);
}
