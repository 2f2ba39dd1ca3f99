using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>Key-level operations: TTL, scans with glob patterns, pattern deletes.</summary>
public sealed partial class RedisCache
{
    /// <summary>The most <c>*</c> wildcards a pattern may hold: Redis glob matching backtracks, and many stars make it slow.</summary>
    public const int MaxPatternWildcards = 16;

    /// <summary>
    /// Escapes the glob characters (<c>*</c>, <c>?</c>, <c>[</c>, <c>]</c>, <c>\</c>) of a literal, so a user-supplied
    /// part of a pattern matches only itself: <c>KeysAsync("user:" + RedisCache.EscapePattern(input) + ":*")</c>.
    /// </summary>
    /// <param name="literal">The text to match literally.</param>
    /// <returns>The escaped text.</returns>
    public static string EscapePattern(string literal)
    {
        ArgumentNullException.ThrowIfNull(literal);
        if (literal.AsSpan().IndexOfAny("*?[]\\") < 0)
        {
            return literal;
        }

        var sb = new StringBuilder(literal.Length + 8);
        foreach (var c in literal)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    /// <summary>Reads a key's remaining time to live.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A miss when the key does not exist; a hit with <see langword="null"/> when it never expires; else a hit with the time left.</returns>
    public async ValueTask<CacheResult<TimeSpan?>> TtlAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var result = await RunAsync(key, "PTTL", physical, static (db, k) => db.ExecuteAsync("PTTL", k), cancellationToken).ConfigureAwait(false);
        var ms = (long)result;
        return ms switch
        {
            -2 => CacheResult<TimeSpan?>.Miss,
            -1 => new CacheResult<TimeSpan?>(null),
            _ => new CacheResult<TimeSpan?>(TimeSpan.FromMilliseconds(ms)),
        };
    }

    /// <summary>Reads how many bytes Redis spends on a key (<c>MEMORY USAGE</c>), value and overhead included.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The bytes, or <see langword="null"/> when the key does not exist.</returns>
    public async ValueTask<long?> MemoryUsageAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var result = await RunAsync(key, "MEMORY USAGE", physical, static (db, k) => db.ExecuteAsync("MEMORY", "USAGE", k), cancellationToken).ConfigureAwait(false);
        return result.IsNull ? null : (long)result;
    }

    /// <summary>
    /// Lists this cache's keys that match a glob pattern, with <c>SCAN</c> (never <c>KEYS</c>) on every primary of a
    /// cluster. The pattern applies inside <see cref="KeyPrefix"/>, and keys come back without it; a pattern cannot
    /// reach another namespace. Escape user-supplied parts with <see cref="EscapePattern"/>.
    /// </summary>
    /// <param name="pattern">A Redis glob pattern (<c>*</c>, <c>?</c>, <c>[abc]</c>, <c>\</c> escapes); <c>*</c> for every key.</param>
    /// <param name="pageSize">The <c>COUNT</c> hint of each <c>SCAN</c> call.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>The matching logical keys, each once, in no particular order.</returns>
    /// <remarks>Like <c>SCAN</c>, a key added or removed during the scan may or may not be listed. A key under the prefix
    /// that no operation of this cache could name (another client's: not UTF-8, the prefix alone, with control characters,
    /// longer than <see cref="RedisCacheOptions.MaxKeyBytes"/>) is not listed; <see cref="DeleteByPatternAsync"/> removes it.</remarks>
    /// <exception cref="ArgumentException">The pattern or page size is invalid; thrown by the call itself, before enumeration starts.</exception>
    public IAsyncEnumerable<string> KeysAsync(string pattern = "*", int pageSize = 250, CancellationToken cancellationToken = default)
    {
        var match = BuildMatch(pattern);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, 100_000);
        return ScanAsync(match, pageSize, cancellationToken);
    }

    /// <summary>The <c>SCAN</c> loop of <see cref="KeysAsync"/>, over a checked, namespaced match: only keys this cache can address.</summary>
    private async IAsyncEnumerable<string> ScanAsync(string match, int pageSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (_, logical) in ScanPhysicalAsync(match, pageSize, cancellationToken).ConfigureAwait(false))
        {
            if (logical is not null)
            {
                yield return logical;
            }
        }
    }

    /// <summary>
    /// Every key a <c>SCAN</c> with <paramref name="match"/> finds on every primary, each once, with its logical key, or
    /// <see langword="null"/> for one this cache cannot address: a key another client wrote that is not UTF-8, is the
    /// prefix itself, or breaks the key rules (a control character, longer than <see cref="RedisCacheOptions.MaxKeyBytes"/>).
    /// </summary>
    private async IAsyncEnumerable<(RedisKey Physical, string? Logical)> ScanPhysicalAsync(string match, int pageSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var primaries = await GetPrimariesAsync("SCAN", cancellationToken).ConfigureAwait(false);
        var database = _database!.Database;
        var seen = new HashSet<RedisKey>();
        var addressable = 0;
        foreach (var server in primaries)
        {
            long cursor = 0;
            do
            {
                var reply = await RunOnServerAsync(server, "SCAN", (database, cursor, match, pageSize),
                    static (s, a) => s.ExecuteAsync(a.database, "SCAN", [a.cursor, "MATCH", a.match, "COUNT", a.pageSize], CommandFlags.None), cancellationToken).ConfigureAwait(false);
                var parts = (RedisResult[])reply!;
                cursor = long.Parse((string)parts[0]!, System.Globalization.CultureInfo.InvariantCulture);
                foreach (var item in (RedisKey[])parts[1]!)
                {
                    if (seen.Add(item))
                    {
                        var logical = ToAddressableLogicalKey(item);
                        addressable += logical is null ? 0 : 1;
                        yield return (item, logical);
                    }
                }
            }
            while (cursor != 0);
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.ScanFinished(_logger, Name, primaries.Count, addressable);
        }
    }

    /// <summary>The logical key of a scanned key, or <see langword="null"/> when no operation of this cache could name it.</summary>
    private string? ToAddressableLogicalKey(RedisKey physical)
    {
        var bytes = (byte[]?)physical;
        if (bytes is null || !System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return null; // decoding would replace the bad bytes, naming another key
        }

        var logical = ToLogicalKey(physical);
        if (logical is null)
        {
            return null;
        }

        try
        {
            CacheKeyRules.Validate(logical, _maxKeyBytes, allowSpaces: true, nameof(physical));
            return logical;
        }
        catch (InvalidCacheKeyException)
        {
            return null;
        }
    }

    /// <summary>
    /// Removes this cache's keys that match a glob pattern (found with <c>SCAN</c>, removed in slot-grouped batches),
    /// including keys under the prefix that other clients wrote and this cache cannot otherwise name (not UTF-8, with
    /// control characters, or longer than <see cref="RedisCacheOptions.MaxKeyBytes"/>), so a namespace can always be emptied.
    /// </summary>
    /// <param name="pattern">A Redis glob pattern inside <see cref="KeyPrefix"/>; escape user-supplied parts with <see cref="EscapePattern"/>.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>How many keys were removed.</returns>
    public async ValueTask<long> DeleteByPatternAsync(string pattern, CancellationToken cancellationToken = default)
    {
        var match = BuildMatch(pattern);
        long removed = 0;
        var chunk = new List<RedisKey>(500);
        await foreach (var (physical, _) in ScanPhysicalAsync(match, 500, cancellationToken).ConfigureAwait(false))
        {
            chunk.Add(physical);
            if (chunk.Count == 500)
            {
                removed += await DeletePhysicalAsync(chunk, cancellationToken).ConfigureAwait(false);
                chunk.Clear();
            }
        }

        if (chunk.Count > 0)
        {
            removed += await DeletePhysicalAsync(chunk, cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    /// <summary>Deletes scanned keys as they are stored, one <c>DEL</c> per hash slot on a cluster (one in all on a single server).</summary>
    private async ValueTask<long> DeletePhysicalAsync(List<RedisKey> physical, CancellationToken cancellationToken)
    {
        var db = await GetDatabaseAsync(null, "DEL", cancellationToken).ConfigureAwait(false);
        var multiplexer = _multiplexer!;
        List<RedisKey[]> groups;
        if (IsCluster(multiplexer))
        {
            groups = [.. physical.GroupBy(k => multiplexer.HashSlot(k)).Select(g => g.ToArray())];
        }
        else
        {
            groups = [physical.ToArray()];
        }

        var tasks = new Task<long>[groups.Count];
        try
        {
            for (var i = 0; i < groups.Count; i++)
            {
                tasks[i] = db.KeyDeleteAsync(groups[i]);
            }

            await WithTimeout(Task.WhenAll(tasks), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTranslatable(ex))
        {
            throw Translate(FirstFailure(tasks) ?? ex, null, "DEL (pattern)");
        }

        long removed = 0;
        foreach (var task in tasks)
        {
            removed += task.Result;
        }

        for (var i = 0; _metrics is not null && i < removed; i++)
        {
            _metrics.RecordDelete();
        }

        return removed;
    }

    /// <summary>Checks a pattern and puts it inside the namespace: the escaped prefix, then the pattern.</summary>
    private string BuildMatch(string pattern)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        if (Invalidation.GlobMatcher.UnescapedByteCount(pattern) > _maxKeyBytes)
        {
            // Escapes do not count: the escaped pattern of a key at the limit (EscapePattern) must still be taken.
            throw new ArgumentException($"The pattern is longer than the {_maxKeyBytes}-byte key limit.", nameof(pattern));
        }

        foreach (var c in pattern)
        {
            if (char.IsControl(c))
            {
                throw new ArgumentException("The pattern must not contain control characters.", nameof(pattern));
            }
        }

        if (Invalidation.GlobMatcher.Wildcards(pattern) > MaxPatternWildcards)
        {
            throw new ArgumentException($"The pattern holds more than {MaxPatternWildcards} '*' wildcards; Redis glob matching slows down sharply with many of them.", nameof(pattern));
        }

        return EscapePattern(_prefix) + pattern;
    }
}
