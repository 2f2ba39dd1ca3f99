using Microsoft.Data.Sqlite;
using TaiCache.Tests.Sqlite;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// The SQLite files of one write-behind journal test class (journals and the tiers beside them), each new per call and
/// all deleted with their WAL, shared-memory and lock files when the test ends.
/// </summary>
internal sealed class JournalTestFiles : IDisposable
{
    private readonly string _owner;
    private readonly List<string> _files = [];

    /// <param name="owner">The test class's name, the start of every file name.</param>
    public JournalTestFiles(string owner) => _owner = owner;

    /// <summary>A new file path under the temporary folder, named after the class and <paramref name="name"/>.</summary>
    public string New(string name)
    {
        var path = SqliteTestFiles.NewPath(_owner + "-" + name);
        _files.Add(path);
        return path;
    }

    /// <summary>Deletes <paramref name="path"/> (made elsewhere) with the others.</summary>
    public void Add(string path) => _files.Add(path);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var path in _files)
        {
            SqliteTestFiles.Delete(path);
            try
            {
                File.Delete(path + ".lock");
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }
}
