using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using TaiCache.Invalidation;

namespace TaiCache.Sqlite;

/// <summary>Key listing: pages of live keys in key order, so pattern invalidation reaches what only the file holds.</summary>
public sealed partial class SqliteTier
{
    /// <summary>
    /// Lists the file's live keys that match a glob pattern, in the dialect of Redis's <c>SCAN MATCH</c> (<c>*</c>,
    /// <c>?</c>, <c>[abc]</c>, <c>[^a]</c>, <c>[a-z]</c>, <c>\</c> escapes), in pages read under the tier's gate one at
    /// a time, so other calls run between pages. The pattern's literal start narrows the read to that range of the key
    /// index.
    /// </summary>
    /// <param name="pattern">The glob; <c>*</c> for every key.</param>
    /// <param name="pageSize">How many keys each read of the file returns at most.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The matching keys, each once, in ordinal order of their UTF-8 bytes.</returns>
    /// <remarks>A key added or removed while the listing runs may or may not be listed.</remarks>
    /// <exception cref="ArgumentException">The pattern is null or the page size is out of range; thrown by the call itself.</exception>
    public IAsyncEnumerable<string> KeysAsync(string pattern = "*", int pageSize = 500, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, 100_000);
        return ListAsync(pattern, pageSize, cancellationToken);
    }

    private async IAsyncEnumerable<string> ListAsync(string pattern, int pageSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var glob = SqliteGlobOfLiteralStart(pattern);
        var after = string.Empty;
        while (true)
        {
            var page = new List<string>(Math.Min(pageSize, 1024));
            await EnterAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var cmd = _sql.Keys;
                cmd.Parameters[0].Value = after;
                cmd.Parameters[1].Value = glob;
                cmd.Parameters[2].Value = NowMs();
                cmd.Parameters[3].Value = pageSize;
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    page.Add(reader.GetString(0));
                }
            }
            catch (SqliteException ex)
            {
                throw Fail(nameof(KeysAsync), null, ex);
            }
            finally
            {
                _gate.Release();
            }

            foreach (var key in page)
            {
                if (GlobMatcher.IsMatch(pattern, key))
                {
                    yield return key;
                }
            }

            if (page.Count < pageSize)
            {
                yield break;
            }

            after = page[^1];
        }
    }

    /// <summary>
    /// A SQLite GLOB selecting every key that starts with the pattern's literal start (up to its first wildcard), which
    /// SQLite answers from the key index; the pattern itself is then matched on each key read.
    /// </summary>
    internal static string SqliteGlobOfLiteralStart(string pattern)
    {
        var glob = new StringBuilder(pattern.Length + 2);
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c is '*' or '?' or '[')
            {
                break;
            }

            if (c == '\\' && i + 1 < pattern.Length)
            {
                c = pattern[++i];
            }

            // SQLite's GLOB has no escape character: a wildcard taken literally is a one-character class.
            glob.Append(c is '*' or '?' or '[' ? $"[{c}]" : c);
        }

        return glob.Append('*').ToString();
    }
}
