using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace TaiCache.Tiering.Coherence;

/// <summary>
/// Keeps the local tier (<see cref="InMemoryTier"/>) of instances that share a distributed tier coherent through Redis
/// pub/sub: an instance that writes or deletes a key publishes an invalidation, and every other instance evicts the key
/// from its local tier.
/// </summary>
/// <remarks>
/// <para>Every message carries its origin's instance id, a random incarnation and a per-origin sequence number that
/// grows by one per invalidation. An instance ignores its own messages, ignores repeats, and when a peer's numbers jump
/// (a message was lost) it clears its local tier. Plain pub/sub loses whatever is published while a subscriber is
/// disconnected, so the local tier is also cleared when the subscription connection fails, again when it is back (once
/// the instance hears its own probe), and when the instance stops hearing its own periodic heartbeat. Peers' heartbeats
/// carry their latest sequence number, so a lost invalidation is noticed within one heartbeat even when nothing follows it.</para>
/// <para>The channel is <c>{ChannelPrefix}{Namespace}</c>. The message format is described in <c>docs/coherence.md</c>.</para>
/// </remarks>
public sealed partial class CacheCoherence : IAsyncDisposable, IKeyLimited
{
    /// <summary>
    /// The handler a SUBSCRIBE goes out for (see <see cref="SubscribeAsync"/>); messages are read from the queue. Every
    /// start adds it once and takes it back once: instances sharing a multiplexer and a channel each add one copy, and
    /// taking one back leaves the others.
    /// </summary>
    private static readonly Action<RedisChannel, RedisValue> Subscribing = static (_, _) => { };

    private readonly Func<CancellationToken, ValueTask<IConnectionMultiplexer>>? _connect;
    private IConnectionMultiplexer? _multiplexer;
    private readonly InMemoryTier _localTier;

    /// <summary>Gets the memory tier whose keys this instance evicts (a <see cref="MultiTierCache"/> using it must hold it).</summary>
    internal InMemoryTier LocalTier => _localTier;
    private readonly CacheCoherenceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisChannel _channel;
    private readonly ulong _incarnation;
    private readonly Lock _publishLock = new();
    private readonly Lock _lifetimeLock = new();
    private long _sequence;
    private long _lastFailedSequence;
    private long _lastClearSequence;
    private ChannelMessageQueue? _queue;
    private ITimer? _heartbeatTimer;
    private int _started;
    private volatile bool _disposed;
    private volatile bool _startExpected;
    private long _messagesPublished;
    private long _messagesReceived;
    private long _resyncCount;
    private long _sequenceGaps;

    /// <summary>Initializes coherence for one local tier. Call <see cref="StartAsync"/> before relying on it.</summary>
    /// <param name="multiplexer">The Redis connection (shared with the distributed tier, or a dedicated one). It is not disposed by this instance.</param>
    /// <param name="localTier">The local tier kept coherent.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public CacheCoherence(IConnectionMultiplexer multiplexer, InMemoryTier localTier, CacheCoherenceOptions? options = null)
        : this(multiplexer ?? throw new ArgumentNullException(nameof(multiplexer)), connect: null, localTier, options)
    {
    }

    /// <summary>
    /// Initializes coherence over a connection still being made (the distributed tier's, opened in the background):
    /// <see cref="StartAsync"/> and the first publish wait for <paramref name="connect"/>, so building the cache never
    /// blocks on the network.
    /// </summary>
    internal CacheCoherence(Func<CancellationToken, ValueTask<IConnectionMultiplexer>> connect, InMemoryTier localTier, CacheCoherenceOptions? options = null)
        : this(multiplexer: null, connect ?? throw new ArgumentNullException(nameof(connect)), localTier, options)
    {
    }

    private CacheCoherence(IConnectionMultiplexer? multiplexer, Func<CancellationToken, ValueTask<IConnectionMultiplexer>>? connect, InMemoryTier localTier, CacheCoherenceOptions? options)
    {
        ArgumentNullException.ThrowIfNull(localTier);
        _options = (options ?? new CacheCoherenceOptions()).Clone();
        _options.Validate();
        _multiplexer = multiplexer;
        _connect = connect;
        _localTier = localTier;
        _time = _options.TimeProvider;
        _logger = _options.LoggerFactory?.CreateLogger<CacheCoherence>() ?? NullLogger<CacheCoherence>.Instance;
        InstanceId = _options.InstanceId ?? GenerateInstanceId();
        _incarnation = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8));
        ChannelName = _options.ChannelPrefix + _options.Namespace;
        _channel = RedisChannel.Literal(ChannelName);
    }

    /// <summary>Gets the options the instance runs with (its own copy, validated).</summary>
    internal CacheCoherenceOptions Options => _options;

    /// <summary>Raised after keys were evicted from the local tier because another instance invalidated them (or cleared everything).</summary>
    public event EventHandler<CoherenceInvalidationEventArgs>? RemoteInvalidation;

    /// <summary>Raised after the local tier was cleared because messages may have been lost (a gap, a reconnect, silence).</summary>
    public event EventHandler<CoherenceResyncEventArgs>? Resynchronized;

    /// <summary>Gets this instance's id, carried by every message it publishes.</summary>
    public string InstanceId { get; }

    /// <summary>Gets the Redis channel the instances share.</summary>
    public string ChannelName { get; }

    /// <summary>
    /// Gets a value indicating whether the local tier can be trusted right now: started, the subscription connected and
    /// confirmed, and the instance's own heartbeat heard recently. Once started, a multi-tier cache copies no value read
    /// from a shared tier (Redis, memcached) into the local tier while this is <see langword="false"/>; writes, factory
    /// values and copies from a local persistent tier still go there.
    /// </summary>
    public bool IsCoherent => Volatile.Read(ref _started) == 1 && !_disposed && _subscriberHealthy && !_awaitingEcho && !_silent;

    /// <summary>
    /// Gets a value indicating whether a copy into the local tier of a value read from a shared tier could miss a peer's
    /// invalidation: started (or being started, or its owner retrying a failed start, see <see cref="ExpectStart"/>)
    /// and not coherent. Before <see cref="StartAsync"/> nothing is watched.
    /// </summary>
    internal bool CopiesAtRisk => (Volatile.Read(ref _started) == 1 || _startExpected) && !IsCoherent;

    /// <summary>
    /// Tells that this instance's owner will start it and retry until it has started (the DI registration): from now on
    /// the local tier takes no copies of shared values until it is coherent, between failed attempts included, when
    /// nothing hears the peers.
    /// </summary>
    internal void ExpectStart() => _startExpected = true;

    /// <summary>Gets how many times the local tier was cleared to resynchronise.</summary>
    public long ResyncCount => Interlocked.Read(ref _resyncCount);

    /// <inheritdoc />
    int IKeyLimited.MaxKeyBytes => _options.MaxKeyBytes;

    /// <inheritdoc />
    string IKeyLimited.KeyLimitOption => "CacheCoherenceOptions.MaxKeyBytes";

    /// <inheritdoc />
    bool IKeyLimited.AllowsSpaces => true;

    /// <summary>Gets how many sequence gaps (missed peer messages) were detected.</summary>
    public long SequenceGapCount => Interlocked.Read(ref _sequenceGaps);

    /// <summary>Gets how many messages (heartbeats included) this instance published.</summary>
    public long MessagesPublished => Interlocked.Read(ref _messagesPublished);

    /// <summary>Gets how many messages (its own echoes and heartbeats included) this instance received.</summary>
    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    /// <summary>Gets the sequence number of the last invalidation or clear this instance published.</summary>
    public long LastSequence => Interlocked.Read(ref _sequence);

    /// <summary>Subscribes to the channel and starts the heartbeat. Calling it again does nothing.</summary>
    /// <param name="cancellationToken">Cancels the wait for the subscription.</param>
    /// <returns>A task that completes when the instance is subscribed.</returns>
    /// <exception cref="CacheConnectionException">Redis refused the subscription.</exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed, before the call or while it subscribed (the subscription is then undone).</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested(); // nothing started for a caller already gone
        if (Interlocked.CompareExchange(ref _started, 1, 0) != 0)
        {
            return;
        }

        IConnectionMultiplexer multiplexer;
        try
        {
            multiplexer = await GetMultiplexerAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Volatile.Write(ref _started, 0);
            throw;
        }

        multiplexer.ConnectionFailed += OnConnectionFailed;
        multiplexer.ConnectionRestored += OnConnectionRestored;
        ChannelMessageQueue queue;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this); // disposed while the connection was being made
            queue = await SubscribeAsync(multiplexer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Not started: a later StartAsync (after a cancellation or a timeout too) subscribes afresh.
            multiplexer.ConnectionFailed -= OnConnectionFailed;
            multiplexer.ConnectionRestored -= OnConnectionRestored;
            Volatile.Write(ref _started, 0);
            if (ex is RedisException or TimeoutException)
            {
                throw new CacheConnectionException($"Cache coherence could not subscribe to its channel: {ex.Message}", ex);
            }

            throw;
        }

        var running = false;
        lock (_lifetimeLock)
        {
            // A DisposeAsync that ran while the SUBSCRIBE was under way found no queue and no timer to stop: this one
            // must not leave a subscription and a heartbeat running for a disposed instance.
            if (!_disposed)
            {
                running = true;
                _queue = queue;
                _queue.OnMessage(OnMessage);
                _lastSelfHeard = _time.GetTimestamp();
                _subscriberHealthy = true;
                _heartbeatTimer = _time.CreateTimer(static state => ((CacheCoherence)state!).OnHeartbeatTimer(), this, _options.HeartbeatInterval, _options.HeartbeatInterval);
            }
        }

        if (!running)
        {
            multiplexer.ConnectionFailed -= OnConnectionFailed;
            multiplexer.ConnectionRestored -= OnConnectionRestored;
            await UnsubscribeQuietlyAsync(queue).ConfigureAwait(false);
            throw new ObjectDisposedException(GetType().FullName, "The cache coherence was disposed while it subscribed.");
        }

        Log.Started(_logger, InstanceId, ChannelName);
        await PublishHeartbeatAsync().ConfigureAwait(false);
        if (ClearOwed)
        {
            await PublishOwedClearAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// SUBSCRIBE right after the multiplexer connected can find its subscription connection still handshaking on a busy
    /// machine ("No connection is active/available"); while the multiplexer is connected otherwise, that is retried a
    /// few times (50 ms, doubling: about 1.5 s in all) before <see cref="StartAsync"/> gives up. The back-off runs on the
    /// wall clock: a caller's fake clock, there for heartbeats, must not stall a connect.
    /// </summary>
    /// <remarks>
    /// StackExchange.Redis registers a subscriber (a handler or a queue) for the channel before it sends the SUBSCRIBE,
    /// and hands a queue back only when the call succeeds: a queue whose SUBSCRIBE failed (a timeout, a cancellation)
    /// stayed registered, the server subscribed once it ran the command, and nothing could unsubscribe it. So the
    /// SUBSCRIBE goes out for a handler of this instance's own, which a failure takes back (the multiplexer then sends
    /// an UNSUBSCRIBE, behind the SUBSCRIBE), and the queue joins the subscription only once it is made (nothing is sent
    /// then), after which the handler leaves it to the queue.
    /// </remarks>
    private async Task<ChannelMessageQueue> SubscribeAsync(IConnectionMultiplexer multiplexer, CancellationToken cancellationToken)
    {
        const int attempts = 6;
        var subscriber = multiplexer.GetSubscriber();
        var delay = TimeSpan.FromMilliseconds(50);
        for (var attempt = 1; ; attempt++)
        {
            var subscribing = subscriber.SubscribeAsync(_channel, Subscribing);
            try
            {
                await subscribing.WaitAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception ex)
            {
                ObserveFailure(subscribing); // a cancelled wait leaves it running, and nobody waits for it any more
                ForgetSubscribing(subscriber);
                if (ex is not RedisConnectionException || attempt >= attempts || !multiplexer.IsConnected)
                {
                    throw;
                }
            }

            await Task.Delay(delay, TimeProvider.System, cancellationToken).ConfigureAwait(false);
            delay *= 2;
        }

        try
        {
            return await subscriber.SubscribeAsync(_channel, CommandFlags.FireAndForget).ConfigureAwait(false);
        }
        finally
        {
            ForgetSubscribing(subscriber);
        }
    }

    /// <summary>Takes back the handler <see cref="SubscribeAsync"/> subscribed with; the last one of the channel unsubscribes it on the server.</summary>
    private void ForgetSubscribing(ISubscriber subscriber)
    {
        try
        {
            _ = subscriber.UnsubscribeAsync(_channel, Subscribing, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException)
        {
            // The connection is gone: the server dropped the subscription with it, and the registration went with the multiplexer.
        }
    }

    /// <summary>Observes a call's failure that nobody waits for any more, so it does not reach <see cref="TaskScheduler.UnobservedTaskException"/>.</summary>
    private static void ObserveFailure(Task pending) =>
        _ = pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Tells every other instance to evict keys from its local tier. The caller's own local tier is not touched.</summary>
    /// <param name="keys">The keys; split into several messages when there are more than <see cref="CacheCoherenceOptions.MaxKeysPerMessage"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for Redis (the message may still be sent).</param>
    /// <returns>A task that completes when Redis accepted the messages.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> or one of them is <see langword="null"/>.</exception>
    /// <exception cref="InvalidCacheKeyException">A key breaks the key rules; nothing is published.</exception>
    /// <exception cref="CacheConnectionException">Redis could not take the message. Its sequence number is used anyway, so peers notice the gap and resynchronise.</exception>
    public async ValueTask PublishInvalidationAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            CacheKeyRules.Validate(key, _options.MaxKeyBytes, paramName: nameof(keys));
        }

        if (keys.Count == 0)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (keys.Count <= _options.MaxKeysPerMessage)
        {
            await PublishDataAsync(CoherenceMessageKind.Invalidate, keys as IReadOnlyList<string> ?? [.. keys], cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var chunk in keys.Chunk(_options.MaxKeysPerMessage))
        {
            await PublishDataAsync(CoherenceMessageKind.Invalidate, chunk, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Tells every other instance to clear its local tier. The caller's own local tier is not touched.</summary>
    /// <param name="cancellationToken">Cancels the wait for Redis (the message may still be sent).</param>
    /// <returns>A task that completes when Redis accepted the message.</returns>
    /// <exception cref="CacheConnectionException">Redis could not take the message.</exception>
    public ValueTask PublishClearAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return PublishDataAsync(CoherenceMessageKind.Clear, [], cancellationToken);
    }

    /// <summary>Unsubscribes and stops the heartbeat. The multiplexer and the local tier are left open.</summary>
    /// <returns>A task that completes when the instance is unsubscribed.</returns>
    public async ValueTask DisposeAsync()
    {
        ITimer? timer;
        ChannelMessageQueue? queue;
        lock (_lifetimeLock)
        {
            if (_disposed)
            {
                return;
            }

            // With StartAsync's lock: a start still subscribing sees the flag and undoes its own subscription.
            _disposed = true;
            timer = _heartbeatTimer;
            queue = _queue;
        }

        if (Volatile.Read(ref _multiplexer) is { } multiplexer)
        {
            multiplexer.ConnectionFailed -= OnConnectionFailed;
            multiplexer.ConnectionRestored -= OnConnectionRestored;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        if (queue is not null)
        {
            await UnsubscribeQuietlyAsync(queue).ConfigureAwait(false);
        }

        Log.Stopped(_logger, InstanceId);
    }

    private static async Task UnsubscribeQuietlyAsync(ChannelMessageQueue queue)
    {
        try
        {
            await queue.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The connection is gone, or its owner (often the Redis tier of the cache this instance served) closed it
            // first: the server dropped the subscription with it. A timeout: the server did not answer in time; the
            // messages that still arrive are ignored (disposed).
        }
    }

    private static string GenerateInstanceId()
    {
        var machine = Environment.MachineName;
        if (machine.Length > 64)
        {
            machine = machine[..64];
        }

        return $"{machine}:{Environment.ProcessId}:{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
    }

    /// <summary>The connection, once known (given at construction, or opened by the tier that owns it).</summary>
    internal IConnectionMultiplexer? Multiplexer => Volatile.Read(ref _multiplexer);

    private async ValueTask PublishDataAsync(CoherenceMessageKind kind, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        // Encode outside the lock with a placeholder sequence, then stamp the number and hand the message to the
        // multiplexer inside the lock, so messages reach Redis in sequence order.
        // Owed a clear (an earlier message failed): this one goes as a clear, which covers its keys too.
        if (ClearOwed)
        {
            kind = CoherenceMessageKind.Clear;
            keys = [];
        }

        var payload = CoherenceMessage.Encode(kind, InstanceId, _incarnation, 0, keys);
        if (Volatile.Read(ref _multiplexer) is null)
        {
            try
            {
                _ = await GetMultiplexerAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (CacheConnectionException)
            {
                // Nothing sent, and no number used: use one, so that peers see the gap, and owe a clear.
                RaiseTo(ref _lastFailedSequence, Interlocked.Increment(ref _sequence));
                throw;
            }
        }

        var sequenceOffset = 5 + Encoding.UTF8.GetByteCount(InstanceId) + 8;
        Task<long> publish;
        long sequence;
        lock (_publishLock)
        {
            sequence = Interlocked.Increment(ref _sequence);
            BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(sequenceOffset), sequence);
            publish = StartPublish(payload);
        }

        try
        {
            await WaitForPublishAsync(publish, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _messagesPublished);
            if (kind == CoherenceMessageKind.Clear)
            {
                RaiseTo(ref _lastClearSequence, sequence);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // ObjectDisposedException: the connection was closed under a running coherence (its owner disposed it first).
            // TimeoutException: StackExchange.Redis's RedisTimeoutException is not a RedisException.
            RaiseTo(ref _lastFailedSequence, sequence);
            Log.PublishFailed(_logger, ChannelName, ex);
            var why = ex.GetType() == typeof(TimeoutException) ? $"Redis did not take it within {_options.PublishTimeout} (CacheCoherenceOptions.PublishTimeout)" : ex.Message;
            throw new CacheConnectionException($"Cache coherence could not publish an invalidation: {why}", ex);
        }
    }

    /// <summary>
    /// Waits for a publish at most <see cref="CacheCoherenceOptions.PublishTimeout"/>: a failed write-through, say, must
    /// not hold its caller's exception for as long as the multiplexer would wait. A publish no longer waited for (that
    /// bound, or the caller's token) goes on; its failure is observed.
    /// </summary>
    private Task<long> WaitForPublishAsync(Task<long> publish, CancellationToken cancellationToken)
    {
        if (publish.IsCompleted)
        {
            return publish;
        }

        ObserveFailure(publish);
        return _options.PublishTimeout is { } timeout
            ? publish.WaitAsync(timeout, _time, cancellationToken)
            : publish.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Gets a value indicating whether a message this instance numbered failed after the last clear Redis took. A peer
    /// that knew this instance sees the gap in its numbers; one that first hears of it later takes the numbers it then
    /// hears as its start, and would keep its copies of the keys whose invalidation failed: a clear makes up for it.
    /// </summary>
    private bool ClearOwed => Interlocked.Read(ref _lastFailedSequence) > Interlocked.Read(ref _lastClearSequence);

    /// <summary>Publishes the clear owed for failed messages (see <see cref="ClearOwed"/>), from the heartbeat; a failure is logged.</summary>
    private async Task PublishOwedClearAsync()
    {
        try
        {
            await PublishDataAsync(CoherenceMessageKind.Clear, [], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CacheConnectionException or ObjectDisposedException)
        {
            // Logged; still owed: the next heartbeat tries again.
        }
    }

    private static void RaiseTo(ref long field, long value)
    {
        var seen = Interlocked.Read(ref field);
        while (seen < value)
        {
            var was = Interlocked.CompareExchange(ref field, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }

    private Task PublishHeartbeatAsync(long probe = 0)
    {
        Task<long> publish;
        lock (_publishLock)
        {
            var payload = CoherenceMessage.Encode(CoherenceMessageKind.Heartbeat, InstanceId, _incarnation, Interlocked.Read(ref _sequence), probe: probe);
            publish = StartPublish(payload);
        }

        return ObserveHeartbeatAsync(publish);
    }

    /// <summary>The connection: given at construction, or awaited from the tier opening it (then kept).</summary>
    /// <exception cref="CacheConnectionException">The connection could not be opened.</exception>
    private async ValueTask<IConnectionMultiplexer> GetMultiplexerAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _multiplexer) is { } multiplexer)
        {
            return multiplexer;
        }

        try
        {
            multiplexer = await _connect!(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new CacheConnectionException($"Cache coherence could not connect to Redis: {ex.Message}", ex);
        }

        return Interlocked.CompareExchange(ref _multiplexer, multiplexer, null) ?? multiplexer;
    }

    private Task<long> StartPublish(byte[] payload)
    {
        try
        {
            return _multiplexer!.GetSubscriber().PublishAsync(_channel, payload);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Thrown at once, not through the task, by a connection already disposed: the heartbeat timer's caller
            // must not see it (an exception there would end the process).
            return Task.FromException<long>(ex);
        }
    }

    private async Task ObserveHeartbeatAsync(Task<long> publish)
    {
        try
        {
            await publish.ConfigureAwait(false);
            Interlocked.Increment(ref _messagesPublished);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // A timeout too (RedisTimeoutException is not a RedisException): thrown here it would fail a StartAsync that
            // subscribed, end the probing after a reconnect, and fault the timer's discarded task unobserved.
            Log.HeartbeatFailed(_logger, ex);
        }
    }
}
