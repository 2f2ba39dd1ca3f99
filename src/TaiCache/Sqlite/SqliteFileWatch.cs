using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace TaiCache.Sqlite;

/// <summary>
/// Tells whether the file a SQLite connection has open is still the one at its path. SQLite goes on writing to a file
/// unlinked (or renamed away) under it, and nothing opens that file again: writes acknowledged then are lost. SQLite's
/// own check (<c>SQLITE_FCNTL_HAS_MOVED</c>, one <c>stat</c> compared with the open file's inode) finds a file deleted,
/// renamed, or replaced by another at the same path; where it cannot be asked (another SQLite build, a platform whose
/// file system does not answer it), whether a file exists at the path is checked instead, which finds a deletion only.
/// </summary>
internal static class SqliteFileWatch
{
    private const int FileControlHasMoved = 20; // SQLITE_FCNTL_HAS_MOVED
    private const int SqliteOk = 0;
    private static readonly byte[] MainDatabase = "main\0"u8.ToArray();
    private static int s_unavailable; // 1 once the native call could not be made: File.Exists from then on

    /// <summary>Whether the connection's file is no longer the one at <paramref name="path"/> (deleted, moved or replaced).</summary>
    /// <param name="connection">An open connection to the file.</param>
    /// <param name="path">The path it was opened at.</param>
    public static bool HasMoved(SqliteConnection connection, string path)
    {
        if (Volatile.Read(ref s_unavailable) == 0 && connection.Handle is { } handle)
        {
            try
            {
                var moved = 0;
                var added = false;
                handle.DangerousAddRef(ref added);
                try
                {
                    if (FileControl(handle.DangerousGetHandle(), MainDatabase, FileControlHasMoved, ref moved) == SqliteOk)
                    {
                        return moved != 0;
                    }
                }
                finally
                {
                    if (added)
                    {
                        handle.DangerousRelease();
                    }
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
                Volatile.Write(ref s_unavailable, 1);
            }
        }

        return !File.Exists(path);
    }

    [DllImport("e_sqlite3", EntryPoint = "sqlite3_file_control", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int FileControl(IntPtr db, byte[] databaseName, int operation, ref int argument);
}
