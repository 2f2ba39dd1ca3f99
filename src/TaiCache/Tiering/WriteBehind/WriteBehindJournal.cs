using Microsoft.Data.Sqlite;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// A SQLite table holding every queued write-behind operation until all lower tiers have it, so a crashed process
/// loses nothing it acknowledged: one row per key (the latest version), deleted when that version is flushed.
/// </summary>
internal sealed class WriteBehindJournal : IDisposable
{
    private const string Table = "taicache_write_behind_journal";
    private readonly Lock _gate = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _updateTtl;

    public WriteBehindJournal(string path)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadWriteCreate };
        _connection = new SqliteConnection(builder.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=NORMAL;");
        Execute("PRAGMA busy_timeout=5000;");
        Execute($"CREATE TABLE IF NOT EXISTS {Table} (key TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, op INTEGER NOT NULL, type TEXT, ttl_ticks INTEGER, payload BLOB);");

        _upsert = _connection.CreateCommand();
        _upsert.CommandText = $"INSERT INTO {Table} (key, seq, op, type, ttl_ticks, payload) VALUES ($key, $seq, $op, $type, $ttl, $payload) " +
            "ON CONFLICT(key) DO UPDATE SET seq = excluded.seq, op = excluded.op, type = excluded.type, ttl_ticks = excluded.ttl_ticks, payload = excluded.payload;";
        _upsert.Parameters.Add("$key", SqliteType.Text);
        _upsert.Parameters.Add("$seq", SqliteType.Integer);
        _upsert.Parameters.Add("$op", SqliteType.Integer);
        _upsert.Parameters.Add("$type", SqliteType.Text);
        _upsert.Parameters.Add("$ttl", SqliteType.Integer);
        _upsert.Parameters.Add("$payload", SqliteType.Blob);
        _upsert.Prepare();

        _delete = _connection.CreateCommand();
        _delete.CommandText = $"DELETE FROM {Table} WHERE key = $key AND seq = $seq;";
        _delete.Parameters.Add("$key", SqliteType.Text);
        _delete.Parameters.Add("$seq", SqliteType.Integer);
        _delete.Prepare();

        _updateTtl = _connection.CreateCommand();
        _updateTtl.CommandText = $"UPDATE {Table} SET ttl_ticks = $ttl WHERE key = $key;";
        _updateTtl.Parameters.Add("$key", SqliteType.Text);
        _updateTtl.Parameters.Add("$ttl", SqliteType.Integer);
        _updateTtl.Prepare();
    }

    /// <summary>Records the latest version of a key's queued operation (durable when this returns).</summary>
    public void Upsert(PendingWrite entry)
    {
        var payload = entry.Encode();
        lock (_gate)
        {
            _upsert.Parameters["$key"].Value = entry.Key;
            _upsert.Parameters["$seq"].Value = entry.Sequence;
            _upsert.Parameters["$op"].Value = (int)entry.Operation;
            _upsert.Parameters["$type"].Value = (object?)entry.ValueType?.AssemblyQualifiedName ?? DBNull.Value;
            _upsert.Parameters["$ttl"].Value = entry.Ttl is { } ttl ? ttl.Ticks : DBNull.Value;
            _upsert.Parameters["$payload"].Value = (object?)payload ?? DBNull.Value;
            _upsert.ExecuteNonQuery();
        }
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
            using var transaction = _connection.BeginTransaction();
            _delete.Transaction = transaction;
            foreach (var (key, sequence) in done)
            {
                _delete.Parameters["$key"].Value = key;
                _delete.Parameters["$seq"].Value = sequence;
                _delete.ExecuteNonQuery();
            }

            transaction.Commit();
            _delete.Transaction = null;
        }
    }

    public void UpdateTtl(string key, TimeSpan ttl)
    {
        lock (_gate)
        {
            _updateTtl.Parameters["$key"].Value = key;
            _updateTtl.Parameters["$ttl"].Value = ttl.Ticks;
            _updateTtl.ExecuteNonQuery();
        }
    }

    /// <summary>Reads every journaled operation, oldest first.</summary>
    public List<JournalRow> ReadAll()
    {
        var rows = new List<JournalRow>();
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"SELECT key, seq, op, type, ttl_ticks, payload FROM {Table} ORDER BY seq;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new JournalRow(
                    reader.GetString(0),
                    reader.GetInt64(1),
                    (WriteBehindOperation)reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? null : TimeSpan.FromTicks(reader.GetInt64(4)),
                    reader.IsDBNull(5) ? null : (byte[])reader.GetValue(5)));
            }
        }

        return rows;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _upsert.Dispose();
            _delete.Dispose();
            _updateTtl.Dispose();
            _connection.Dispose();
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    internal sealed record JournalRow(string Key, long Sequence, WriteBehindOperation Operation, string? TypeName, TimeSpan? Ttl, byte[]? Payload);
}
