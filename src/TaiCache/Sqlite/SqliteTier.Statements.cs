using Microsoft.Data.Sqlite;

namespace TaiCache.Sqlite;

/// <summary>The tier's statements, prepared once on its connection and reused under its gate.</summary>
public sealed partial class SqliteTier
{
    private sealed class Statements : IDisposable
    {
        private readonly SqliteCommand[] _all;

        public Statements(SqliteConnection connection)
        {
            Get = Create(connection, $"SELECT value, expires_at FROM {Table} WHERE key = $key AND {Live};", "$key", "$now");
            Set = Create(connection, $"INSERT INTO {Table} (key, value, expires_at) VALUES ($key, $value, $expires) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at;", "$key", "$value", "$expires");
            // An upsert whose update only replaces an expired row: a live one is left alone (no change counted).
            Add = Create(connection, $"INSERT INTO {Table} (key, value, expires_at) VALUES ($key, $value, $expires) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE {Table}.expires_at IS NOT NULL AND {Table}.expires_at <= $now;", "$key", "$value", "$expires", "$now");
            Delete = Create(connection, $"DELETE FROM {Table} WHERE key = $key AND {Live};", "$key", "$now");
            Exists = Create(connection, $"SELECT EXISTS (SELECT 1 FROM {Table} WHERE key = $key AND {Live});", "$key", "$now");
            Expire = Create(connection, $"UPDATE {Table} SET expires_at = $expires WHERE key = $key AND {Live};", "$key", "$now", "$expires");
            Sweep = Create(connection, $"DELETE FROM {Table} WHERE rowid IN (SELECT rowid FROM {Table} WHERE expires_at IS NOT NULL AND expires_at <= $now LIMIT {SweepBatch});", "$now");
            Count = Create(connection, $"SELECT COUNT(*) FROM {Table} WHERE {Live};", "$now");
            CountAll = Create(connection, $"SELECT COUNT(*) FROM {Table};");
            Size = Create(connection, $"SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0) FROM {Table};");
            Clear = Create(connection, $"DELETE FROM {Table};");
            Keys = Create(connection, $"SELECT key FROM {Table} WHERE key > $after AND key GLOB $glob AND {Live} ORDER BY key LIMIT $limit;", "$after", "$glob", "$now", "$limit");
            _all = [Get, Set, Add, Delete, Exists, Expire, Sweep, Count, CountAll, Size, Clear, Keys];
        }

        public SqliteCommand Get { get; }

        /// <summary>A page of live keys after <c>$after</c> matching a SQLite GLOB (a literal prefix, then <c>*</c>), in key order.</summary>
        public SqliteCommand Keys { get; }

        public SqliteCommand Set { get; }

        /// <summary>An insert that yields to a live row of the key (replacing an expired one).</summary>
        public SqliteCommand Add { get; }

        public SqliteCommand Delete { get; }

        public SqliteCommand Exists { get; }

        public SqliteCommand Expire { get; }

        public SqliteCommand Sweep { get; }

        public SqliteCommand Count { get; }

        public SqliteCommand CountAll { get; }

        /// <summary>Rows and their bytes (key and stored value), for the size metrics; read after a sweep.</summary>
        public SqliteCommand Size { get; }

        public SqliteCommand Clear { get; }

        /// <summary>Attaches every statement to a transaction (Microsoft.Data.Sqlite requires it), or detaches them.</summary>
        public void Enlist(SqliteTransaction? transaction)
        {
            foreach (var cmd in _all)
            {
                cmd.Transaction = transaction;
            }
        }

        public void Dispose()
        {
            foreach (var cmd in _all)
            {
                cmd.Dispose();
            }
        }

        private static SqliteCommand Create(SqliteConnection connection, string sql, params string[] parameters)
        {
            var cmd = connection.CreateCommand();
#pragma warning disable CA2100 // the SQL is built from constants only; values always travel as parameters
            cmd.CommandText = sql;
#pragma warning restore CA2100
            foreach (var name in parameters)
            {
                cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            cmd.Prepare();
            return cmd;
        }
    }
}
