using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TaiCache.Metrics;
using TaiCache.Serialization;

namespace TaiCache.Sqlite;

/// <summary>
/// A persistent cache tier in one SQLite file on local disk (the L3 of a multi-tier cache, or the embedded default with
/// an <see cref="InMemoryTier"/> in front), so cached values survive a process restart.
/// </summary>
/// <remarks>
/// <para>One table (<c>key TEXT PRIMARY KEY, value BLOB, expires_at INTEGER</c> in Unix milliseconds or
/// <see langword="null"/>), WAL journal. Values are stored in TaiCache's envelope (<c>CacheValueCodec</c>), so any
/// instance can read what another wrote. Expired rows are misses on every read and are deleted by a periodic sweep
/// (<see cref="SqliteTierOptions.SweepInterval"/>) or on demand (<see cref="SweepAsync"/>).</para>
/// <para>Thread safe: one connection behind an asynchronous gate, with statements prepared once. Batch operations run
/// in one transaction. Several processes may open the same file; a writer waits up to
/// <see cref="SqliteTierOptions.BusyTimeout"/> for another process's lock.</para>
/// </remarks>
public sealed partial class SqliteTier : ICacheOps, IBatchReader, IConditionalWriter, IKeyLimited
{
    private const string Table = "taicache_entries";
    private const int SchemaVersion = 1;
    private const string Live = "(expires_at IS NULL OR expires_at > $now)";

    /// <summary>How many expired rows one step of a sweep deletes.</summary>
    private const int SweepBatch = 2_000;

    private readonly SqliteTierOptions _options;
    private readonly TimeProvider _time;
    private readonly CacheValueCodec _codec;
    private readonly ILogger _logger;
    private readonly MetricsCollector? _metrics;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SqliteConnection _connection;
    private readonly Statements _sql;
    private readonly ITimer? _sweepTimer;
    private int _sweeping;
    private volatile bool _disposed;

    /// <summary>Set once the file was found deleted under the open connection: every call fails from then on.</summary>
    private volatile bool _fileLost;

    /// <summary>Opens (creating when missing) the tier's file.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="CacheConnectionException">The file cannot be opened or is not a TaiCache SQLite tier of a readable version.</exception>
    /// <exception cref="CacheTimeoutException">A new file's schema could not be made within <see cref="SqliteTierOptions.BusyTimeout"/> (another connection holds its lock).</exception>
    public SqliteTier(SqliteTierOptions? options = null)
    {
        _options = (options ?? new SqliteTierOptions()).Clone();
        _options.Validate();
        _time = _options.TimeProvider;
        _codec = new CacheValueCodec(_options.Serialization);
        _logger = _options.LoggerFactory?.CreateLogger<SqliteTier>() ?? NullLogger<SqliteTier>.Instance;
        _metrics = _options.Metrics;
        FilePath = _options.ResolveFilePath();

        try
        {
            var directory = Path.GetDirectoryName(FilePath);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            var builder = new SqliteConnectionStringBuilder
            {
                DataSource = FilePath,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Cache = SqliteCacheMode.Private,
                Pooling = false,
                // SQLite's busy_timeout (below) does the waiting, to the millisecond. Microsoft.Data.Sqlite retries a
                // busy statement until this command timeout, in whole seconds, on top: 1 s, the least it takes (0 is
                // no limit at all), so a statement gives up after BusyTimeout, or after 1 s for a shorter one.
                DefaultTimeout = 1,
            };
            _connection = new SqliteConnection(builder.ToString());
            _connection.Open();
            var journalMode = Initialize(_connection, (int)_options.BusyTimeout.TotalMilliseconds);
            _sql = new Statements(_connection);
            ReportSize();
            Log.Opened(_logger, Name, FilePath, journalMode);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 5 or 6)
        {
            // Another connection held the file's lock past BusyTimeout while the schema was made: a timeout, as for any call.
            _connection?.Dispose();
            throw new CacheTimeoutException($"The SQLite tier '{_options.Name}' could not open its file within BusyTimeout ({_options.BusyTimeout}): another connection holds its lock. {ex.Message}", innerException: ex);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            _connection?.Dispose();
            throw new CacheConnectionException($"The SQLite tier '{_options.Name}' could not open its file: {ex.Message}", ex);
        }
        catch
        {
            // Initialize's own refusals (a file from a newer TaiCache) already say what is wrong: only close the file.
            _connection?.Dispose();
            throw;
        }

        if (_options.SweepInterval is { } interval)
        {
            _sweepTimer = _time.CreateTimer(static state => ((SqliteTier)state!).OnSweepTimer(), this, interval, interval);
        }
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    int IKeyLimited.MaxKeyBytes => _options.MaxKeyBytes;

    /// <inheritdoc />
    string IKeyLimited.KeyLimitOption => "SqliteTierOptions.MaxKeyBytes";

    /// <inheritdoc />
    bool IKeyLimited.AllowsSpaces => true;

    /// <summary>Gets the full path of the database file.</summary>
    public string FilePath { get; }

    /// <inheritdoc />
    public async ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        byte[]? bytes;
        long rowExpiresAt;
        var started = _metrics?.StartTimingAlways() ?? 0;
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bytes = ReadLive(key, NowMs(), out rowExpiresAt);
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(GetAsync), key, ex);
        }
        finally
        {
            _gate.Release();
        }

        if (bytes is null)
        {
            _metrics?.RecordMissTimed(started);
            return CacheResult<T>.Miss;
        }

        var value = _codec.Decode<T>(key, bytes, out var expiresAt);
        _metrics?.RecordHitTimed(started);
        return new CacheResult<T>(value, HitExpiry(expiresAt, rowExpiresAt));
    }

    /// <inheritdoc />
    public async ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        _ = await WriteOneAsync(key, value, ttl, onlyIfAbsent: false, cancellationToken).ConfigureAwait(false);

    /// <summary>Stores a value only when the key holds no live one (an expired row is replaced).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value (<see langword="null"/> is a storable value).</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for <see cref="SqliteTierOptions.DefaultTtl"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the tier's connection.</param>
    /// <returns><see langword="true"/> when stored; <see langword="false"/> when the key held a live value.</returns>
    /// <exception cref="InvalidCacheKeyException"><paramref name="key"/> breaks the key rules.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ttl"/> is zero, negative or infinite.</exception>
    public ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        WriteOneAsync(key, value, ttl, onlyIfAbsent: true, cancellationToken);

    /// <summary>Writes one row (with <paramref name="onlyIfAbsent"/>, unless the key has a live one); true when written.</summary>
    private async ValueTask<bool> WriteOneAsync<T>(string key, T value, TimeSpan? ttl, bool onlyIfAbsent, CancellationToken cancellationToken)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes, paramName: nameof(key));
        CacheKeyRules.ValidateTtl(ttl);
        var bytes = _codec.Encode(key, value, CacheValueCodec.ExpiryFor(ttl ?? _options.DefaultTtl, _time));
        var written = true;
        await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
        try
        {
            var now = NowMs();
            if (onlyIfAbsent)
            {
                written = InsertIfAbsent(key, bytes, ExpiresAt(ttl, now), now);
            }
            else
            {
                Upsert(key, bytes, ExpiresAt(ttl, now));
            }
        }
        catch (SqliteException ex)
        {
            throw Fail(onlyIfAbsent ? nameof(AddAsync) : nameof(SetAsync), key, ex);
        }
        finally
        {
            _gate.Release();
        }

        if (written)
        {
            _metrics?.RecordSet();
        }

        return written;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        bool removed;
        await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
        try
        {
            removed = DeleteOne(key, NowMs());
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(DeleteAsync), key, ex);
        }
        finally
        {
            _gate.Release();
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
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var cmd = _sql.Exists;
            cmd.Parameters[0].Value = key;
            cmd.Parameters[1].Value = NowMs();
            return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0;
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(ExistsAsync), key, ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        CacheKeyRules.ValidateTtl(ttl);
        await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
        try
        {
            // The value's envelope records its expiry for tiers that copy it (docs/format.md): rewrite it with the
            // row's expiry, in one transaction so no other writer of the file slips in between.
            using var tx = _connection.BeginTransaction();
            _sql.Enlist(tx);
            try
            {
                var now = NowMs();
                var expiresAt = ExpiresAt(ttl, now)!.Value;
                var bytes = ReadLive(key, now);
                if (bytes is null)
                {
                    return false;
                }

                if (CacheValueCodec.WithExpiry(bytes, expiresAt) is { } patched)
                {
                    Upsert(key, patched, expiresAt);
                }
                else
                {
                    var cmd = _sql.Expire;
                    cmd.Parameters[0].Value = key;
                    cmd.Parameters[1].Value = now;
                    cmd.Parameters[2].Value = expiresAt;
                    cmd.ExecuteNonQuery();
                }

                tx.Commit();
                return true;
            }
            finally
            {
                _sql.Enlist(null);
            }
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(ExpireAsync), key, ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Counts the live (unexpired) entries in the file.</summary>
    /// <param name="cancellationToken">Cancels the wait for the file.</param>
    /// <returns>The number of live entries.</returns>
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var cmd = _sql.Count;
            cmd.Parameters[0].Value = NowMs();
            return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(CountAsync), null, ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Removes every entry from the file.</summary>
    /// <param name="cancellationToken">Cancels the wait for the file.</param>
    /// <returns>How many rows were removed (expired rows not yet swept included).</returns>
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
        try
        {
            return _sql.Clear.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            throw Fail(nameof(ClearAsync), null, ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_sweepTimer is not null)
        {
            await _sweepTimer.DisposeAsync().ConfigureAwait(false);
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _sql.Dispose();
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        Log.Closed(_logger, Name);
    }

    internal long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Initialize(SqliteConnection connection, int busyTimeoutMs)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"PRAGMA busy_timeout = {busyTimeoutMs};";
        cmd.ExecuteNonQuery();
        cmd.CommandText = "PRAGMA journal_mode = WAL;";
        var journalMode = Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "unknown";
        cmd.CommandText = "PRAGMA synchronous = NORMAL;";
        cmd.ExecuteNonQuery();
        cmd.CommandText = "PRAGMA user_version;";
        var version = Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new CacheConnectionException($"The SQLite file has schema version {version}, newer than this TaiCache reads ({SchemaVersion}); upgrade this instance or use another file.");
        }

        if (version == SchemaVersion)
        {
            // Made already (by this process before, or another): no write lock to wait for at start.
            return journalMode;
        }

        using var tx = connection.BeginTransaction();
        cmd.Transaction = tx;
        cmd.CommandText =
            $"CREATE TABLE IF NOT EXISTS {Table} (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER NULL);" +
            $"CREATE INDEX IF NOT EXISTS {Table}_expires ON {Table} (expires_at) WHERE expires_at IS NOT NULL;" +
            $"PRAGMA user_version = {SchemaVersion};";
        cmd.ExecuteNonQuery();
        tx.Commit();
        return journalMode;
    }

    private static long? ExpiresAt(TimeSpan ttl, long nowMs) =>
        nowMs + Math.Max(1L, (long)Math.Ceiling(ttl.TotalMilliseconds));

    private long? ExpiresAt(TimeSpan? ttl, long nowMs) =>
        (ttl ?? _options.DefaultTtl) is { } t ? ExpiresAt(t, nowMs) : null;

    /// <summary>
    /// Takes the tier's gate. A write (<paramref name="write"/>) first checks that the file is still at
    /// <see cref="FilePath"/>: once it is found deleted, this and every later call fail (see <see cref="FileLost"/>).
    /// </summary>
    private ValueTask EnterAsync(CancellationToken cancellationToken, bool write = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var wait = _gate.WaitAsync(cancellationToken);
        if (wait.IsCompletedSuccessfully)
        {
            return CheckAfterEnter(write);
        }

        return EnterSlowAsync(wait, write);
    }

    private async ValueTask EnterSlowAsync(Task wait, bool write)
    {
        await wait.ConfigureAwait(false);
        await CheckAfterEnter(write).ConfigureAwait(false);
    }

    private ValueTask CheckAfterEnter(bool write)
    {
        if (_disposed)
        {
            _gate.Release();
            return ValueTask.FromException(new ObjectDisposedException(GetType().FullName));
        }

        // SQLite goes on writing to a file unlinked (or replaced) under it, and nothing can open that file again: a
        // write acknowledged now would be lost. One stat per write (not per read: a read of the lost file only serves
        // what was there) finds it, and the tier then refuses every call rather than lose writes quietly.
        if (_fileLost || (write && SqliteFileWatch.HasMoved(_connection, FilePath)))
        {
            _gate.Release();
            return ValueTask.FromException(FileLost());
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Marks the file lost (logged once) and returns the exception every call now fails with.</summary>
    private CacheConnectionException FileLost()
    {
        if (!_fileLost)
        {
            _fileLost = true;
            Log.FileDeleted(_logger, Name, FilePath);
        }

        _metrics?.RecordError();
        return new CacheConnectionException($"The SQLite tier '{Name}' lost its file: '{FilePath}' was deleted, moved or replaced by another file while the tier had it open, so writes would go to a file nothing can open again (and be lost). The tier refuses every call from now on; dispose it and build a new SqliteTier, which creates the file again.");
    }

    private byte[]? ReadLive(string key, long nowMs) => ReadLive(key, nowMs, out _);

    /// <summary>Reads a live row's value, and its <c>expires_at</c> (Unix ms; 0 for none).</summary>
    private byte[]? ReadLive(string key, long nowMs, out long rowExpiresAt)
    {
        var cmd = _sql.Get;
        cmd.Parameters[0].Value = key;
        cmd.Parameters[1].Value = nowMs;
        using var reader = cmd.ExecuteReader(System.Data.CommandBehavior.SingleRow);
        if (!reader.Read())
        {
            rowExpiresAt = 0;
            return null;
        }

        rowExpiresAt = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
        return reader.GetFieldValue<byte[]>(0);
    }

    /// <summary>
    /// A hit's expiry: the earlier of the envelope's and the row's <c>expires_at</c>, which is what the tier drops the
    /// row by (another program may have written the row without an expiry in its envelope, or shortened it since).
    /// </summary>
    private static long HitExpiry(long envelopeExpiresAt, long rowExpiresAt) =>
        envelopeExpiresAt == 0 ? rowExpiresAt : rowExpiresAt == 0 ? envelopeExpiresAt : Math.Min(envelopeExpiresAt, rowExpiresAt);

    private void Upsert(string key, byte[] bytes, long? expiresAt)
    {
        var cmd = _sql.Set;
        cmd.Parameters[0].Value = key;
        cmd.Parameters[1].Value = bytes;
        cmd.Parameters[2].Value = expiresAt is { } e ? e : DBNull.Value;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Inserts a row unless the key has a live one (an expired row is replaced); true when written.</summary>
    private bool InsertIfAbsent(string key, byte[] bytes, long? expiresAt, long nowMs)
    {
        var cmd = _sql.Add;
        cmd.Parameters[0].Value = key;
        cmd.Parameters[1].Value = bytes;
        cmd.Parameters[2].Value = expiresAt is { } e ? e : DBNull.Value;
        cmd.Parameters[3].Value = nowMs;
        return cmd.ExecuteNonQuery() > 0;
    }

    private bool DeleteOne(string key, long nowMs)
    {
        var cmd = _sql.Delete;
        cmd.Parameters[0].Value = key;
        cmd.Parameters[1].Value = nowMs;
        return cmd.ExecuteNonQuery() > 0;
    }

    private CacheException Fail(string operation, string? key, SqliteException ex)
    {
        _metrics?.RecordError();
        Log.OperationFailed(_logger, Name, operation, ex.SqliteErrorCode, ex);
        var what = key is null ? string.Empty : $" for {TaiCacheDiagnostics.DescribeKey(key)}";
        return ex.SqliteErrorCode is 5 or 6 // SQLITE_BUSY, SQLITE_LOCKED
            ? new CacheTimeoutException($"The SQLite tier '{Name}' timed out waiting for the file lock during {operation}{what} (SQLite error {ex.SqliteErrorCode}).", key, ex)
            : new CacheException($"The SQLite tier '{Name}' failed during {operation}{what}: SQLite error {ex.SqliteErrorCode} ({ex.Message}).", key, ex);
    }

    private void OnSweepTimer()
    {
        if (_disposed || Interlocked.Exchange(ref _sweeping, 1) != 0)
        {
            return;
        }

        _ = SweepFromTimerAsync();
    }

    private async Task SweepFromTimerAsync()
    {
        try
        {
            await SweepAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // closed while the timer fired
        }
        catch (Exception ex) when (ex is CacheException or SqliteException or InvalidOperationException)
        {
            Log.SweepFailed(_logger, Name, ex);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    /// <summary>Deletes the expired rows from the file now (the periodic sweep does the same).</summary>
    /// <param name="cancellationToken">Cancels the wait for the file.</param>
    /// <returns>How many expired rows were deleted.</returns>
    /// <remarks>Deletes in batches of <see cref="SweepBatch"/> rows, each its own transaction under the tier's gate, so
    /// other calls (and other processes' writers) run between batches rather than wait for the whole sweep.</remarks>
    public async ValueTask<long> SweepAsync(CancellationToken cancellationToken = default)
    {
        long removed = 0;
        var started = Stopwatch.GetTimestamp();
        var now = NowMs();
        int batch;
        do
        {
            await EnterAsync(cancellationToken, write: true).ConfigureAwait(false);
            try
            {
                var cmd = _sql.Sweep;
                cmd.Parameters[0].Value = now;
                batch = cmd.ExecuteNonQuery();
                removed += batch;
                if (batch < SweepBatch)
                {
                    ReportSize();
                }
            }
            catch (SqliteException ex)
            {
                throw Fail(nameof(SweepAsync), null, ex);
            }
            finally
            {
                _gate.Release();
            }
        }
        while (batch == SweepBatch);

        if (removed > 0)
        {
            for (var i = 0; i < Math.Min(removed, 1_000_000); i++)
            {
                _metrics?.RecordEviction(EvictionReason.Expired);
            }
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Log.Swept(_logger, Name, removed, elapsedMs);
        }
        return removed;
    }

    /// <summary>
    /// Reports the file's rows and bytes (UTF-8 key plus stored value) to the metrics, under the gate. Run after each
    /// sweep rather than on every write: it reads the whole table (the lengths, not the values), which costs little
    /// every few minutes and too much per write.
    /// </summary>
    private void ReportSize()
    {
        if (_metrics is null)
        {
            return;
        }

        using var reader = _sql.Size.ExecuteReader();
        if (reader.Read())
        {
            _metrics.UpdateSize(reader.GetInt64(0), reader.GetInt64(1));
        }
    }

    /// <summary>Counts every row, expired ones not yet swept included (for tests).</summary>
    internal async ValueTask<long> CountAllRowsAsync()
    {
        await EnterAsync(default).ConfigureAwait(false);
        try
        {
            return Convert.ToInt64(_sql.CountAll.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            _gate.Release();
        }
    }
}
