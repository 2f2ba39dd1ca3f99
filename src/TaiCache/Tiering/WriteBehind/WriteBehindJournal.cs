using Microsoft.Data.Sqlite;
using TaiCache.Sqlite;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// A SQLite table holding every queued write-behind operation until all lower tiers have it, so a crashed process
/// loses nothing it acknowledged: one row per key (the latest version), deleted when that version is flushed.
/// </summary>
internal sealed partial class WriteBehindJournal : IDisposable
{
    private const string Table = "taicache_write_behind_journal";
    private readonly Lock _gate = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _updateTtl;
    private readonly string _path;
    private readonly FileStream _owner;
    private bool _disposed;

    /// <summary>How long a call waits for a file another connection has locked.</summary>
    private const int BusyWaitSeconds = 5;

    public WriteBehindJournal(string path)
    {
        _path = path;
        try
        {
            if (Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } folder)
            {
                Directory.CreateDirectory(folder);
            }

            // One journal serves one cache: a second one (in this process or another) replays and deletes the first's
            // rows and loses its writes. The lock file is held while the journal is open; the system drops it with
            // the process, so a crashed owner's journal opens at the next start.
            try
            {
                _owner = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (IsHeldByAnother(e))
            {
                throw new CacheConnectionException($"The write-behind journal at '{path}' is in use by another cache (in this process or another): one journal serves one cache; give each its own WriteBehindOptions.JournalPath.", e);
            }

            // A locked file waits BusyWaitSeconds, not the driver's 30 s default, and never holds the queue's writers longer.
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = BusyWaitSeconds };
            _connection = new SqliteConnection(builder.ToString());
            _connection.Open();
            Execute($"PRAGMA busy_timeout={BusyWaitSeconds * 1000};");
            Execute("PRAGMA journal_mode=WAL;");
            Execute("PRAGMA synchronous=NORMAL;");
            Execute($"CREATE TABLE IF NOT EXISTS {Table} (key TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, op INTEGER NOT NULL, type TEXT, ttl_ticks INTEGER, payload BLOB, expires_at INTEGER, flags INTEGER NOT NULL DEFAULT 0, local_ttl_ticks INTEGER);");
            if (!HasColumn("expires_at"))
            {
                // A journal from before deadlines were kept: its rows replay with their TTL counted from the restart.
                Execute($"ALTER TABLE {Table} ADD COLUMN expires_at INTEGER;");
            }

            // A journal from before the memory options and fills were kept: its rows replay as plain sets. (Each column
            // on its own: a process that died between the two statements left one of them.)
            if (!HasColumn("flags"))
            {
                Execute($"ALTER TABLE {Table} ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;");
            }

            if (!HasColumn("local_ttl_ticks"))
            {
                Execute($"ALTER TABLE {Table} ADD COLUMN local_ttl_ticks INTEGER;");
            }

            _upsert = _connection.CreateCommand();
            _upsert.CommandText = $"INSERT INTO {Table} (key, seq, op, type, ttl_ticks, payload, expires_at, flags, local_ttl_ticks) VALUES ($key, $seq, $op, $type, $ttl, $payload, $expires, $flags, $localTtl) " +
                "ON CONFLICT(key) DO UPDATE SET seq = excluded.seq, op = excluded.op, type = excluded.type, ttl_ticks = excluded.ttl_ticks, payload = excluded.payload, expires_at = excluded.expires_at, flags = excluded.flags, local_ttl_ticks = excluded.local_ttl_ticks;";
            _upsert.Parameters.Add("$key", SqliteType.Text);
            _upsert.Parameters.Add("$seq", SqliteType.Integer);
            _upsert.Parameters.Add("$op", SqliteType.Integer);
            _upsert.Parameters.Add("$type", SqliteType.Text);
            _upsert.Parameters.Add("$ttl", SqliteType.Integer);
            _upsert.Parameters.Add("$payload", SqliteType.Blob);
            _upsert.Parameters.Add("$expires", SqliteType.Integer);
            _upsert.Parameters.Add("$flags", SqliteType.Integer);
            _upsert.Parameters.Add("$localTtl", SqliteType.Integer);
            _upsert.Prepare();

            _delete = _connection.CreateCommand();
            _delete.CommandText = $"DELETE FROM {Table} WHERE key = $key AND seq = $seq;";
            _delete.Parameters.Add("$key", SqliteType.Text);
            _delete.Parameters.Add("$seq", SqliteType.Integer);
            _delete.Prepare();

            _updateTtl = _connection.CreateCommand();
            _updateTtl.CommandText = $"UPDATE {Table} SET ttl_ticks = $ttl, expires_at = $expires WHERE key = $key AND seq = $seq;";
            _updateTtl.Parameters.Add("$key", SqliteType.Text);
            _updateTtl.Parameters.Add("$seq", SqliteType.Integer);
            _updateTtl.Parameters.Add("$ttl", SqliteType.Integer);
            _updateTtl.Parameters.Add("$expires", SqliteType.Integer);
            _updateTtl.Prepare();
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            _connection?.Dispose();
            _owner?.Dispose();
            throw new CacheConnectionException($"The write-behind journal at '{path}' could not be opened: {e.Message}", e);
        }
    }

    /// <summary>Whether opening the lock file failed because another handle holds it (a sharing or lock violation), not
    /// for another reason (a name too long, a read-only or full file system), which the caller reports as it is.</summary>
    private static bool IsHeldByAnother(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 32 or 33 : e.HResult is 11 or 35; // EWOULDBLOCK (Linux, macOS) from flock

    /// <summary>Records the latest version of a key's queued operation (durable when this returns).</summary>
    public void Upsert(PendingWrite entry)
    {
        var payload = entry.Encode();
        lock (_gate)
        {
            CommitStagedLocked(); // rows staged before this one go first: a key's later version is written last
            EnsureFileThere(entry.Key);
            Bind(entry, payload);
            Run(_upsert, entry.Key);
        }
    }

    /// <summary>
    /// Records the latest versions of a batch's keys in one transaction: every row or none (durable when this returns).
    /// </summary>
    /// <param name="entries">The versions, in the order they were queued (a key's later version wins).</param>
    /// <param name="payloads">Their values encoded ahead (see <see cref="PendingWrite.Encode"/>), or <see langword="null"/> to encode them now.</param>
    public void UpsertMany(IReadOnlyList<PendingWrite> entries, IReadOnlyList<byte[]?>? payloads = null)
    {
        if (entries.Count == 0)
        {
            return;
        }

        // Encoded before the transaction: a value that cannot be encoded fails the batch before any row is written.
        var encoded = payloads ?? EncodeAll(entries);
        lock (_gate)
        {
            CommitStagedLocked();
            EnsureFileThere(entries[0].Key);
            try
            {
                WriteRowsLocked(entries, encoded);
            }
            catch (SqliteException e)
            {
                throw Refused(e, entries[0].Key, "write"); // the transaction's begin or commit (a busy file: another writer)
            }
        }
    }

    /// <summary>Upserts rows in one transaction (called under the gate); a SQLite failure leaves none of them.</summary>
    private void WriteRowsLocked(IReadOnlyList<PendingWrite> entries, IReadOnlyList<byte[]?> encoded)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            _upsert.Transaction = transaction;
            for (var i = 0; i < entries.Count; i++)
            {
                Bind(entries[i], encoded[i]);
                _upsert.ExecuteNonQuery();
            }

            transaction.Commit();
        }
        finally
        {
            _upsert.Transaction = null;
        }
    }

    /// <summary>Encodes the values of a batch for <see cref="UpsertMany"/>.</summary>
    public static byte[]?[] EncodeAll(IReadOnlyList<PendingWrite> entries)
    {
        var encoded = new byte[]?[entries.Count];
        for (var i = 0; i < encoded.Length; i++)
        {
            encoded[i] = entries[i].Encode();
        }

        return encoded;
    }

    private void Bind(PendingWrite entry, byte[]? payload)
    {
        _upsert.Parameters["$key"].Value = entry.Key;
        _upsert.Parameters["$seq"].Value = entry.Sequence;
        _upsert.Parameters["$op"].Value = (int)entry.Operation;
        _upsert.Parameters["$type"].Value = (object?)entry.ValueType?.AssemblyQualifiedName ?? DBNull.Value;
        _upsert.Parameters["$ttl"].Value = entry.Ttl is { } ttl ? ttl.Ticks : DBNull.Value;
        _upsert.Parameters["$payload"].Value = (object?)payload ?? DBNull.Value;
        _upsert.Parameters["$expires"].Value = Deadline(entry);
        _upsert.Parameters["$flags"].Value = (int)FlagsOf(entry);
        _upsert.Parameters["$localTtl"].Value = entry.Options.LocalTtl is { } local ? local.Ticks : DBNull.Value;
    }

    private static JournalFlags FlagsOf(PendingWrite entry) =>
        (entry.IsFill ? JournalFlags.Fill : JournalFlags.None) | (entry.Options.SkipMemoryWrite ? JournalFlags.SkipMemoryWrite : JournalFlags.None);

    /// <summary>When the entry's TTL ends (Unix ms), so a replay after a restart does not count it again from then.</summary>
    private static object Deadline(PendingWrite entry) => entry.ExpiresAt is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value;

    /// <summary>
    /// Refuses a write when the journal's file is no longer the one at its path (deleted, moved or replaced while open):
    /// SQLite would go on writing to a file no restart opens, so the write would be acknowledged and then lost at a
    /// crash. One <c>stat</c> per journal write (a journal write is itself a durable SQLite write, far slower).
    /// </summary>
    private void EnsureFileThere(string key)
    {
        if (SqliteFileWatch.HasMoved(_connection, _path))
        {
            throw FileGone(key);
        }
    }

    private CacheConnectionException FileGone(string key) =>
        new($"The write-behind journal at '{_path}' was deleted, moved or replaced by another file while the cache had it open: a write journaled now would be lost at a crash, so the write of {TaiCacheDiagnostics.DescribeKey(key)} was refused and nothing of it applied. Dispose the cache and build it again to start a new journal.", key, null);

    /// <summary>Runs a journal command; a SQLite failure becomes the cache's own exception, naming the journal.</summary>
    private void Run(SqliteCommand command, string? key)
    {
        try
        {
            command.ExecuteNonQuery();
        }
        catch (SqliteException e)
        {
            throw Refused(e, key, "write");
        }
    }

    /// <summary>The cache's own exception for a SQLite failure, naming the journal: a busy or locked file (another writer
    /// held it past the busy timeout) is a <see cref="CacheTimeoutException"/>.</summary>
    private CacheException Refused(SqliteException e, string? key, string what)
    {
        var message = $"The write-behind journal at '{_path}' refused the {what}{(key is null ? string.Empty : $" of {TaiCacheDiagnostics.DescribeKey(key)}")}: {e.Message}";
        return e.SqliteErrorCode is 5 or 6 ? new CacheTimeoutException(message, key, e) : new CacheException(message, key, e);
    }

    /// <summary>Forgets versions that reached every tier (or the dead-letter sink); a newer version of the key stays.</summary>
    public void Complete(IReadOnlyList<(string Key, long Sequence)> done)
    {
        if (done.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            CommitStagedLocked(); // a row staged but not written yet would come back after its removal
            try
            {
                using var transaction = _connection.BeginTransaction();
                _delete.Transaction = transaction;
                foreach (var (key, sequence) in done)
                {
                    _delete.Parameters["$key"].Value = key;
                    _delete.Parameters["$seq"].Value = sequence;
                    Run(_delete, key);
                }

                transaction.Commit();
            }
            catch (SqliteException e)
            {
                throw Refused(e, done[0].Key, "removal of written entries");
            }
            finally
            {
                _delete.Transaction = null;
            }
        }
    }

    /// <summary>
    /// Gives the row of the entry's version a new TTL, before the entry takes it (durable when this returns): a refusal
    /// leaves the entry as it was. The row of another version of the key (one this version replaced) is not touched.
    /// </summary>
    public void UpdateTtl(PendingWrite entry, TimeSpan ttl, DateTimeOffset expiresAt)
    {
        lock (_gate)
        {
            CommitStagedLocked();
            EnsureFileThere(entry.Key);
            _updateTtl.Parameters["$key"].Value = entry.Key;
            _updateTtl.Parameters["$seq"].Value = entry.Sequence;
            _updateTtl.Parameters["$ttl"].Value = ttl.Ticks;
            _updateTtl.Parameters["$expires"].Value = expiresAt.ToUnixTimeMilliseconds();
            Run(_updateTtl, entry.Key);
        }
    }

    /// <summary>
    /// Reads every journaled operation, oldest first. A file whose rows cannot be read (damaged pages, an I/O error)
    /// throws <see cref="CacheConnectionException"/> naming it, as a journal that cannot be opened does.
    /// </summary>
    public List<JournalRow> ReadAll()
    {
        try
        {
            return ReadAllRows();
        }
        catch (SqliteException e)
        {
            throw new CacheConnectionException($"The write-behind journal at '{_path}' could not be read: {e.Message}", e);
        }
    }

    private List<JournalRow> ReadAllRows()
    {
        var rows = new List<JournalRow>();
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"SELECT key, seq, op, type, ttl_ticks, payload, expires_at, flags, local_ttl_ticks FROM {Table} ORDER BY seq;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new JournalRow(
                    reader.GetString(0),
                    reader.GetInt64(1),
                    (WriteBehindOperation)reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? null : TimeSpan.FromTicks(reader.GetInt64(4)),
                    reader.IsDBNull(5) ? null : (byte[])reader.GetValue(5),
                    reader.IsDBNull(6) ? null : reader.GetInt64(6),
                    (JournalFlags)reader.GetInt32(7),
                    reader.IsDBNull(8) ? null : TimeSpan.FromTicks(reader.GetInt64(8))));
            }
        }

        return rows;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            CloseStaging();
            CommitStagedLocked(); // writers waiting on rows staged last get their answer
            _disposed = true;
            _upsert.Dispose();
            _delete.Dispose();
            _updateTtl.Dispose();
            _connection.Dispose();
            _owner.Dispose();
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private bool HasColumn(string name)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{Table}') WHERE name = $name;";
        command.Parameters.AddWithValue("$name", name);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    /// <summary>
    /// A journaled operation; <paramref name="ExpiresAtUnixMs"/> is when a set's TTL ends (null: none, or a journal from
    /// before deadlines were kept); <paramref name="Flags"/> and <paramref name="LocalTtl"/> are the write's memory
    /// options and whether it is a factory's value.
    /// </summary>
    internal sealed record JournalRow(string Key, long Sequence, WriteBehindOperation Operation, string? TypeName, TimeSpan? Ttl, byte[]? Payload, long? ExpiresAtUnixMs, JournalFlags Flags, TimeSpan? LocalTtl);

    /// <summary>What a journal row keeps of how the write was asked for (stored as an integer; never renumber).</summary>
    [Flags]
    internal enum JournalFlags
    {
        None = 0,

        /// <summary>A factory's value (<see cref="PendingWrite.IsFill"/>): it yields to a value a lower tier already holds.</summary>
        Fill = 1,

        /// <summary>The write was kept out of the memory tiers (<see cref="MultiTierEntryOptions.SkipMemoryWrite"/>).</summary>
        SkipMemoryWrite = 2,
    }
}
