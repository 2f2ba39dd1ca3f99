using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StackExchange.Redis.KeyspaceIsolation;
using TaiCache.Metrics;
using TaiCache.Serialization;

namespace TaiCache.Redis;

/// <summary>
/// A cache on Redis (a single server or a Redis Cluster) through StackExchange.Redis. Values go through TaiCache's
/// stored-bytes envelope (<c>docs/format.md</c>); keys live under <see cref="RedisCacheOptions.KeyPrefix"/>.
/// </summary>
/// <remarks>
/// <para>Build it with <see cref="ConnectAsync"/>, from an existing <see cref="IConnectionMultiplexer"/> (shared, never
/// disposed by the cache), or from <see cref="RedisCacheOptions"/> (connects in the background; a server that is down
/// at start makes operations fail with <see cref="CacheConnectionException"/>, never the constructor).</para>
/// <para>Failures surface as <see cref="CacheConnectionException"/>, <see cref="CacheTimeoutException"/>,
/// <see cref="CacheWrongTypeException"/> and <see cref="CacheSerializationException"/>. Messages and logs never hold a
/// password, a connection string, or a raw key (unless <see cref="TaiCacheDiagnostics.IncludeKeysInMessages"/>).</para>
/// </remarks>
public sealed partial class RedisCache : ICacheOps, IBatchReader, IPartialBatchReader, IConditionalWriter, IKeyLimited
{
    private readonly RedisCacheOptions _options;
    private readonly string _prefix;
    private readonly RedisKey _prefixKey;
    private readonly int _maxKeyBytes;
    private readonly TimeSpan? _defaultTtl;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly MetricsCollector? _metrics;
    private readonly ILogger _logger;
    private readonly LogThrottle _failureLog;
    private readonly bool _ownsMultiplexer;
    private readonly bool _readTtlFromServer;
    private readonly Task<IConnectionMultiplexer>? _connecting;
    private IConnectionMultiplexer? _multiplexer;
    private IDatabase? _database;
    private IDatabase? _keyed;
    private int _disposed;

    /// <summary>Initializes a cache on a connection the caller owns and may share; the cache never disposes it.</summary>
    /// <param name="multiplexer">The connection.</param>
    /// <param name="options">The options; defaults when <see langword="null"/>. Connection settings in them are ignored.</param>
    public RedisCache(IConnectionMultiplexer multiplexer, RedisCacheOptions? options = null)
        : this(multiplexer, options, ownsMultiplexer: false)
    {
    }

    /// <summary>
    /// Initializes a cache that opens its own connection from <see cref="RedisCacheOptions.Configuration"/> or
    /// <see cref="RedisCacheOptions.ConnectionString"/>. The connection is made in the background and never throws
    /// from here: operations wait for it, and fail with <see cref="CacheConnectionException"/> while the server is down.
    /// </summary>
    /// <param name="options">The options, naming the server.</param>
    /// <exception cref="ArgumentException">The options are invalid or name no server.</exception>
    public RedisCache(RedisCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = Snapshot(options);
        var configuration = BuildConfiguration(_options, _options.ConnectionString);
        (_prefix, _prefixKey, _maxKeyBytes, _defaultTtl, _timeout, _time, _metrics, _logger) = Unpack(_options);
        _failureLog = new LogThrottle(_time, TimeSpan.FromSeconds(1));
        Codec = new CacheValueCodec(_options.Serialization);
        _ownsMultiplexer = true;
        _readTtlFromServer = _options.ReadTtlFromServer;
        _connecting = ConnectInBackgroundAsync(configuration);
    }

    private RedisCache(IConnectionMultiplexer multiplexer, RedisCacheOptions? options, bool ownsMultiplexer)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        _options = Snapshot(options ?? new RedisCacheOptions());
        (_prefix, _prefixKey, _maxKeyBytes, _defaultTtl, _timeout, _time, _metrics, _logger) = Unpack(_options);
        _failureLog = new LogThrottle(_time, TimeSpan.FromSeconds(1));
        Codec = new CacheValueCodec(_options.Serialization);
        _ownsMultiplexer = ownsMultiplexer;
        _readTtlFromServer = _options.ReadTtlFromServer;
        Attach(multiplexer);
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    int IKeyLimited.MaxKeyBytes => _maxKeyBytes;

    /// <inheritdoc />
    string IKeyLimited.KeyLimitOption => "RedisCacheOptions.MaxKeyBytes";

    /// <inheritdoc />
    bool IKeyLimited.AllowsSpaces => true;

    /// <summary>Gets the namespace every key of this cache is stored under (empty for none).</summary>
    public string KeyPrefix => _prefix;

    /// <summary>Gets a value indicating whether the connection is up (at least one server reachable).</summary>
    public bool IsConnected => _multiplexer?.IsConnected ?? false;

    /// <summary>
    /// Gets the connection, for components that reuse it (pub/sub invalidation, coherence). Available at once when
    /// the cache was built by <see cref="ConnectAsync"/> or from a multiplexer; a cache built from options may still
    /// be connecting, in which case use <see cref="GetMultiplexerAsync"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The cache is still making its first connection attempt.</exception>
    public IConnectionMultiplexer Multiplexer =>
        _multiplexer ?? throw new InvalidOperationException($"Redis cache '{Name}' is still making its first connection attempt; await GetMultiplexerAsync() instead.");

    internal CacheValueCodec Codec { get; }

    /// <summary>Connects to Redis and returns a cache that owns the connection.</summary>
    /// <param name="connectionString">A StackExchange.Redis connection string. Never printed in logs or messages.</param>
    /// <param name="options">Other options; <see cref="RedisCacheOptions.ConnectionString"/> in them is ignored.</param>
    /// <param name="cancellationToken">Cancels the wait for the connection.</param>
    /// <returns>The cache. When no server answers, the cache is returned anyway and keeps retrying in the background.</returns>
    /// <exception cref="ArgumentException">The connection string cannot be parsed, or the options are invalid.</exception>
    public static async Task<RedisCache> ConnectAsync(string connectionString, RedisCacheOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var snapshot = Snapshot(options ?? new RedisCacheOptions());
        snapshot.Configuration = null;
        var configuration = BuildConfiguration(snapshot, connectionString);
        var logger = (snapshot.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RedisCache>();
        cancellationToken.ThrowIfCancellationRequested(); // no connection started for a caller already gone
        ConnectionMultiplexer multiplexer;
        var connecting = ConnectionMultiplexer.ConnectAsync(configuration);
        try
        {
            multiplexer = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            throw new CacheConnectionException($"Redis cache '{snapshot.Name}' could not connect ({ex.GetType().Name}).", ex);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The connect goes on: the connection it makes has no owner, and would keep reconnecting for ever.
            _ = DisposeWhenConnectedAsync(connecting);
            throw;
        }

        if (!multiplexer.IsConnected)
        {
            Log.NotConnectedAtStart(logger, snapshot.Name, "no server answered");
        }

        return new RedisCache(multiplexer, snapshot, ownsMultiplexer: true);
    }

    /// <summary>Disposes the connection of a connect its caller stopped waiting for, once it is made (a failure is observed).</summary>
    private static async Task DisposeWhenConnectedAsync(Task<ConnectionMultiplexer> connecting)
    {
        try
        {
            await (await connecting.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // nobody waits for it
        catch (Exception)
#pragma warning restore CA1031
        {
            // The connect failed: nothing to dispose.
        }
    }

    /// <summary>Gets the connection, waiting for the first connection attempt of a cache built from options.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The connection.</returns>
    public async ValueTask<IConnectionMultiplexer> GetMultiplexerAsync(CancellationToken cancellationToken = default)
    {
        _ = await GetDatabaseAsync(null, "CONNECT", cancellationToken).ConfigureAwait(false);
        return _multiplexer!;
    }

    /// <inheritdoc />
    public async ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _maxKeyBytes, allowSpaces: true, nameof(key));
        var start = _metrics is null ? 0 : _time.GetTimestamp();
        var db = await GetDatabaseAsync(key, "GET", cancellationToken).ConfigureAwait(false);
        if (_readTtlFromServer)
        {
            return await GetWithServerTtlAsync<T>(db, key, start, cancellationToken).ConfigureAwait(false);
        }

        RedisValue raw;
        try
        {
            // The prefixed view writes prefix and key one after the other: no concatenated key per read.
            raw = await WithTimeout(_keyed!.StringGetAsync(key), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, "GET");
        }

        if (raw.IsNull)
        {
            _metrics?.RecordMiss(_time.GetElapsedTime(start));
            return CacheResult<T>.Miss;
        }

        var value = Decode<T>(key, raw, out var expiresAt);
        long now = 0;
        if (NeedsServerTtl(expiresAt, ref now))
        {
            // Redis still holds a value whose recorded expiry has passed: another client lengthened or removed its TTL.
            // Read again with its TTL in one step, so the TTL reported is that of the value reported.
            var (again, sent) = await ReadWithServerTtlAsync(db, key, cancellationToken).ConfigureAwait(false);
            if (!again.IsNull)
            {
                value = Decode<T>(key, again.Raw, out _);
                expiresAt = again.ExpiresAtUnixMs;
            }
            else
            {
                expiresAt = Math.Max(sent, 1); // gone since: the value read, expiring at once (nothing should copy it)
            }
        }

        _metrics?.RecordHit(_time.GetElapsedTime(start));
        return new CacheResult<T>(value, expiresAt);
    }

    /// <summary><see cref="GetAsync{T}"/> with <see cref="RedisCacheOptions.ReadTtlFromServer"/>: the value and its TTL read in one step.</summary>
    private async ValueTask<CacheResult<T>> GetWithServerTtlAsync<T>(IDatabase db, string key, long start, CancellationToken cancellationToken)
    {
        var (read, _) = await ReadWithServerTtlAsync(db, key, cancellationToken).ConfigureAwait(false);
        if (read.IsNull)
        {
            _metrics?.RecordMiss(_time.GetElapsedTime(start));
            return CacheResult<T>.Miss;
        }

        var value = Decode<T>(key, read.Raw, out _);
        _metrics?.RecordHit(_time.GetElapsedTime(start));
        return new CacheResult<T>(value, read.ExpiresAtUnixMs);
    }

    /// <summary>
    /// Reads a key's value and Redis's TTL for it in one step (<see cref="ReadWithTtlScript"/>); when the server refuses
    /// scripts to this user, a <c>GET</c> and a <c>PTTL</c> pipelined (not atomic: see docs/redis.md).
    /// </summary>
    /// <returns>The stored bytes (null for a missing key) with the expiry to report, and the clock's Unix milliseconds
    /// when the read was sent.</returns>
    private async ValueTask<(ServerTtlRead Read, long Sent)> ReadWithServerTtlAsync(IDatabase db, string key, CancellationToken cancellationToken)
    {
        var physical = PrefixKey(key);
        var sent = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (ReadsWithScript)
        {
            try
            {
                var reply = await WithTimeout(StartReadWithTtl(db, physical), cancellationToken).ConfigureAwait(false);
                return (FromReadWithTtl(reply, sent, out var raw, out var expiresAt) ? new ServerTtlRead(raw, expiresAt) : default, sent);
            }
            catch (Exception ex) when (IsTranslatable(ex))
            {
                if (!RefusedReadScript(ex))
                {
                    throw Translate(ex, key, "GET+PTTL");
                }
            }
        }

        Task<RedisValue>? get = null;
        Task<RedisResult>? pttl = null;
        try
        {
            get = db.StringGetAsync(physical);
            pttl = StartPttl(db, physical);
            await WithTimeout(Task.WhenAll(get, pttl), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(get is { IsFaulted: true } ? get.Exception!.InnerException! : ex, key, "GET");
        }

        return (get.Result.IsNull ? default : new ServerTtlRead(get.Result, FromServerTtl(pttl.Result, sent)), sent);
    }

    /// <inheritdoc />
    public async ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        var bytes = EncodeForSet(key, value, ttl, out var expiry);
        _ = await GetDatabaseAsync(key, "SET", cancellationToken).ConfigureAwait(false);
        try
        {
            await WithTimeout(_keyed!.StringSetAsync(key, bytes, expiry, When.Always), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, "SET");
        }

        _metrics?.RecordSet();
    }

    /// <summary>Stores a value only when the key holds none (Redis <c>SET NX</c>), with its TTL as <see cref="SetAsync{T}"/> gives it.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value (<see langword="null"/> is a storable value).</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for <see cref="RedisCacheOptions.DefaultTtl"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the server.</param>
    /// <returns><see langword="true"/> when stored; <see langword="false"/> when the key already held a value (of any Redis type).</returns>
    /// <exception cref="InvalidCacheKeyException"><paramref name="key"/> breaks the key rules.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ttl"/> is zero, negative or infinite.</exception>
    public async ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        var bytes = EncodeForSet(key, value, ttl, out var expiry);
        _ = await GetDatabaseAsync(key, "SET NX", cancellationToken).ConfigureAwait(false);
        bool stored;
        try
        {
            stored = await WithTimeout(_keyed!.StringSetAsync(key, bytes, expiry, When.NotExists), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, "SET NX");
        }

        if (stored)
        {
            _metrics?.RecordSet();
        }

        return stored;
    }

    /// <summary>Checks a key and TTL for a set, and encodes the value with the expiry the server will be given.</summary>
    private byte[] EncodeForSet<T>(string key, T value, TimeSpan? ttl, out TimeSpan? expiry)
    {
        CacheKeyRules.Validate(key, _maxKeyBytes, allowSpaces: true, nameof(key));
        CacheKeyRules.ValidateTtl(ttl);
        expiry = ToServerExpiry(ttl ?? _defaultTtl);
        return Codec.Encode(key, value, CacheValueCodec.ExpiryFor(expiry, _time));
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var db = await GetDatabaseAsync(key, "DEL", cancellationToken).ConfigureAwait(false);
        bool removed;
        try
        {
            removed = await WithTimeout(db.KeyDeleteAsync(physical), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, "DEL");
        }

        if (removed)
        {
            _metrics?.RecordDelete();
        }

        return removed;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var db = await GetDatabaseAsync(key, "EXISTS", cancellationToken).ConfigureAwait(false);
        try
        {
            return await WithTimeout(db.KeyExistsAsync(physical), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, "EXISTS");
        }
    }

    /// <summary>
    /// Rounds a time to live up to whole milliseconds, Redis's precision: the client would truncate it, and a TTL under
    /// 1 ms would go out as <c>PX 0</c>, which Redis refuses (or, for <c>PEXPIRE</c>, takes as "delete now"). The last
    /// partial millisecond below <see cref="TimeSpan.MaxValue"/> is rounded down instead: rounding up would overflow.
    /// </summary>
    private static TimeSpan? ToServerExpiry(TimeSpan? ttl) => ttl is { } t && t.Ticks % TimeSpan.TicksPerMillisecond != 0
        ? TimeSpan.FromTicks((t.Ticks / TimeSpan.TicksPerMillisecond + (t.Ticks > long.MaxValue - TimeSpan.TicksPerMillisecond ? 0 : 1)) * TimeSpan.TicksPerMillisecond)
        : ttl;

    /// <summary>Closes the connection when the cache opened it; a shared connection is left open.</summary>
    /// <returns>A task that completes when the connection is closed, or at once when the cache is still making its first
    /// connection attempt (that connection is then closed in the background when the attempt ends).</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var multiplexer = _multiplexer;
        if (multiplexer is null && _connecting is not null)
        {
            if (!_connecting.IsCompleted)
            {
                // The first attempt is still running (a server that takes connections and never answers holds it for
                // up to the connect timeout, per retry): shutting down does not wait for it. The connection is closed
                // when the attempt ends.
                _ = CloseWhenConnectedAsync(_connecting);
                return;
            }

            multiplexer = await ConnectedOrNullAsync(_connecting).ConfigureAwait(false);
        }

        if (multiplexer is not null)
        {
            await CloseAsync(multiplexer).ConfigureAwait(false);
        }
    }

    private static async Task<IConnectionMultiplexer?> ConnectedOrNullAsync(Task<IConnectionMultiplexer> connecting)
    {
        try
        {
            return await connecting.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Whatever failed the connect (a refused configuration included) was reported to the calls that waited
            // for it; disposal must not throw it again.
            return null;
        }
    }

    private async Task CloseWhenConnectedAsync(Task<IConnectionMultiplexer> connecting)
    {
        if (await ConnectedOrNullAsync(connecting).ConfigureAwait(false) is { } multiplexer)
        {
            await CloseAsync(multiplexer).ConfigureAwait(false);
        }
    }

    private async ValueTask CloseAsync(IConnectionMultiplexer multiplexer)
    {
        multiplexer.ConnectionFailed -= OnConnectionFailed;
        multiplexer.ConnectionRestored -= OnConnectionRestored;
        if (_ownsMultiplexer)
        {
            await multiplexer.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Maps a logical key to the key stored in Redis (prefix included), after checking it against the key rules.</summary>
    /// <param name="key">The logical key.</param>
    /// <returns>The physical key.</returns>
    internal RedisKey ToPhysicalKey(string key)
    {
        CacheKeyRules.Validate(key, _maxKeyBytes, allowSpaces: true, nameof(key));
        return PrefixKey(key);
    }

    /// <summary>Prefixes a key that was already validated.</summary>
    private RedisKey PrefixKey(string key)
    {
        RedisKey physical = key;
        return _prefix.Length == 0 ? physical : physical.Prepend(_prefixKey);
    }

    /// <summary>Maps a key read from Redis back to the logical key, or <see langword="null"/> when it is outside this cache's namespace.</summary>
    /// <param name="physical">The key as stored.</param>
    /// <returns>The logical key, or <see langword="null"/>.</returns>
    internal string? ToLogicalKey(RedisKey physical)
    {
        var text = (string?)physical;
        if (text is null || !text.StartsWith(_prefix, StringComparison.Ordinal))
        {
            return null;
        }

        return text[_prefix.Length..];
    }

    private static RedisCacheOptions Snapshot(RedisCacheOptions options)
    {
        var copy = options.Clone();
        copy.Validate();
        return copy;
    }

    private static (string Prefix, RedisKey PrefixKey, int MaxKeyBytes, TimeSpan? DefaultTtl, TimeSpan Timeout, TimeProvider Time, MetricsCollector? Metrics, ILogger Logger) Unpack(RedisCacheOptions o) =>
        // The prefix as bytes: a key prepended with it carries the same array (no copy per key), where a text prefix
        // would be encoded anew for every key.
        (o.KeyPrefix, (RedisKey)Encoding.UTF8.GetBytes(o.KeyPrefix), o.MaxKeyBytes, o.DefaultTtl, o.OperationTimeout, o.TimeProvider, o.Metrics,
            (o.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RedisCache>());

    /// <summary>Builds the configuration of a connection the cache owns: never aborts on a failed first connect, fails fast while disconnected, keeps keys out of exception text.</summary>
    internal static ConfigurationOptions BuildConfiguration(RedisCacheOptions options, string? connectionString)
    {
        ConfigurationOptions configuration;
        if (options.Configuration is not null)
        {
            configuration = options.Configuration.Clone();
        }
        else if (!string.IsNullOrWhiteSpace(connectionString))
        {
            try
            {
                configuration = ConfigurationOptions.Parse(connectionString);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or NotSupportedException or RedisException)
            {
                // The parser's own message may quote the string, password included: do not pass it on.
                throw new ArgumentException($"The Redis connection string for cache '{options.Name}' could not be parsed ({ex.GetType().Name}).", nameof(connectionString));
            }
        }
        else
        {
            throw new ArgumentException("RedisCacheOptions needs a ConnectionString or a Configuration to connect.", nameof(options));
        }

        if (configuration.EndPoints.Count == 0)
        {
            // StackExchange.Redis would only refuse this at connect, in the background, with every call failing after.
            throw new ArgumentException($"The Redis connection settings for cache '{options.Name}' name no server: give at least one host:port (for example \"localhost:6379,abortConnect=false\").", nameof(options));
        }

        var timeoutMs = (int)Math.Ceiling(options.OperationTimeout.TotalMilliseconds);
        configuration.AbortOnConnectFail = false;
        configuration.AsyncTimeout = timeoutMs;
        configuration.SyncTimeout = timeoutMs;
        configuration.ConnectTimeout = timeoutMs;

        // StackExchange.Redis finds timed-out commands only on its heartbeat (1 s by default), so a call could run for
        // OperationTimeout + 1 s. A heartbeat of a quarter of the timeout (100 ms to 1 s) keeps the bound close.
        var heartbeat = TimeSpan.FromTicks(Math.Clamp(options.OperationTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 100, TimeSpan.TicksPerSecond));
        if (heartbeat < configuration.HeartbeatInterval)
        {
            configuration.HeartbeatInterval = heartbeat;
        }

        // A SocketManager the caller configured is kept; else the one IoScheduling names (SocketManager.Shared is
        // StackExchange.Redis's own default).
        configuration.SocketManager ??= options.IoScheduling == RedisIoScheduling.ThreadPool ? SocketManager.ThreadPool : SocketManager.Shared;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.IncludeDetailInExceptions = false;
        configuration.ClientName ??= "taicache";
        return configuration;
    }

    private async Task<IConnectionMultiplexer> ConnectInBackgroundAsync(ConfigurationOptions configuration)
    {
        await Task.Yield(); // never run the connect on the constructor's thread
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        if (!multiplexer.IsConnected)
        {
            Log.NotConnectedAtStart(_logger, Name, "no server answered");
        }

        // Attached even when the cache was disposed meanwhile: DisposeAsync awaits this task and closes what it returns.
        Attach(multiplexer);
        return multiplexer;
    }

    private void Attach(IConnectionMultiplexer multiplexer)
    {
        multiplexer.ConnectionFailed += OnConnectionFailed;
        multiplexer.ConnectionRestored += OnConnectionRestored;
        var database = multiplexer.GetDatabase();
        _keyed = _prefix.Length == 0 ? database : database.WithKeyPrefix(_prefixKey);
        // The multiplexer first: a call that sees the database (the release below publishes both) may use it at once.
        _multiplexer = multiplexer;
        Volatile.Write(ref _database, database);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            if (multiplexer.IsConnected)
            {
                var endPoints = multiplexer.GetEndPoints().Length;
                var cluster = IsClusterCore(multiplexer);
                Log.Connected(_logger, Name, endPoints, cluster);
            }
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        NoteConnectionFailed(e);
        Log.ConnectionFailed(_logger, Name, e.EndPoint, e.FailureType, e.ConnectionType);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        NoteConnectionRestored();
        Log.ConnectionRestored(_logger, Name, e.EndPoint, e.ConnectionType);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Gets the database, waiting for the first connection attempt when the cache is still making it.</summary>
    private ValueTask<IDatabase> GetDatabaseAsync(string? key, string operation, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var db = Volatile.Read(ref _database);
        if (db is null)
        {
            return WaitForConnectionAsync(key, operation, cancellationToken);
        }

        if (_someServerDown && key is not null)
        {
            ThrowIfShardDown(key, operation);
        }

        return new ValueTask<IDatabase>(db);
    }

    private async ValueTask<IDatabase> WaitForConnectionAsync(string? key, string operation, CancellationToken cancellationToken)
    {
        Debug.Assert(_connecting is not null, "Only a cache built from options connects in the background.");
        try
        {
            await _connecting!.WaitAsync(_timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(ex, key, operation);
        }

        return _database!;
    }

    /// <summary>Bounds a command by the operation timeout and the caller's token. A connection the cache owns already has the timeout built in.</summary>
    private Task<TResult> WithTimeout<TResult>(Task<TResult> task, CancellationToken cancellationToken) =>
        _ownsMultiplexer && !cancellationToken.CanBeCanceled ? task : task.WaitAsync(_timeout, _time, cancellationToken);

    private Task WithTimeout(Task task, CancellationToken cancellationToken) =>
        _ownsMultiplexer && !cancellationToken.CanBeCanceled ? task : task.WaitAsync(_timeout, _time, cancellationToken);

    /// <summary>Decodes a list item, hash value or set member: always an envelope (a counter is a string value, never an
    /// item; another client's plain "5" in a set is no TaiCache member, and reading it as one listed members that
    /// <c>SetContainsAsync</c> then said were not there).</summary>
    private T DecodeItem<T>(string key, RedisValue raw) => Decode<T>(key, raw, out _, plainCounters: false);

    /// <summary>Decodes a string value: an envelope, or a counter's plain decimal text (<paramref name="plainCounters"/>).</summary>
    private T Decode<T>(string key, RedisValue raw, out long expiresAtUnixMs, bool plainCounters = true)
    {
        expiresAtUnixMs = 0;
        // A counter (INCRBY) is plain decimal text, not an envelope: read it as a number, as memcached's are.
        var bytes = (ReadOnlyMemory<byte>)raw;
        if (plainCounters && bytes.Length is > 0 and <= 65 && bytes.Span[0] != CacheValueCodec.Magic0)
        {
            if (PlainCounter.TryRead<T>(bytes.Span, padded: false, out var counter))
            {
                return counter;
            }

            if (PlainCounter.Unrepresentable<T>(key, bytes.Span, padded: false) is { } overflow)
            {
                _metrics?.RecordError();
                throw overflow;
            }
        }

        try
        {
            return Codec.Decode<T>(key, bytes, out expiresAtUnixMs);
        }
        catch (CacheSerializationException ex)
        {
            _metrics?.RecordError();
            Log.Unreadable(_logger, Name, TaiCacheDiagnostics.DescribeKey(key), ex.InnerException?.GetType().Name ?? "envelope");
            throw;
        }
    }

    private static bool IsClusterCore(IConnectionMultiplexer multiplexer)
    {
        foreach (var endPoint in multiplexer.GetEndPoints())
        {
            if (multiplexer.GetServer(endPoint).ServerType == ServerType.Cluster)
            {
                return true;
            }
        }

        return false;
    }
}
