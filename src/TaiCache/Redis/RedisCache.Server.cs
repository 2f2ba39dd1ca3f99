using System.Globalization;

namespace TaiCache.Redis;

/// <summary>Server-wide reads: INFO and statistics, over every primary.</summary>
public sealed partial class RedisCache
{
    /// <summary>Reads <c>INFO</c> from every primary (and, on a cluster, each one in turn).</summary>
    /// <param name="section">An <c>INFO</c> section such as <c>memory</c> or <c>stats</c>; <see langword="null"/> for the default set.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>One report per primary.</returns>
    public async ValueTask<IReadOnlyList<RedisServerInfo>> InfoAsync(string? section = null, CancellationToken cancellationToken = default)
    {
        var primaries = await GetPrimariesAsync("INFO", cancellationToken).ConfigureAwait(false);
        var tasks = new Task<StackExchange.Redis.RedisResult>[primaries.Count];
        for (var i = 0; i < primaries.Count; i++)
        {
            tasks[i] = RunOnServerAsync(primaries[i], "INFO", section, static (s, sec) => s.ExecuteAsync("INFO", sec is null ? [] : [sec], StackExchange.Redis.CommandFlags.None), cancellationToken).AsTask();
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        var reports = new List<RedisServerInfo>(primaries.Count);
        for (var i = 0; i < primaries.Count; i++)
        {
            var values = ParseInfo((string?)tasks[i].Result);
            reports.Add(new RedisServerInfo(primaries[i].EndPoint.ToString() ?? "(unknown)", primaries[i].IsReplica, values));
        }

        return reports;
    }

    /// <summary>Reads server-side statistics (keys, memory, hits, misses, evictions), summed over every primary.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The statistics.</returns>
    public async ValueTask<RedisCacheStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var primaries = await GetPrimariesAsync("INFO", cancellationToken).ConfigureAwait(false);
        var database = _database!.Database;
        var infoTask = InfoAsync("all", cancellationToken).AsTask();
        var sizeTasks = new Task<long>[primaries.Count];
        for (var i = 0; i < primaries.Count; i++)
        {
            sizeTasks[i] = RunOnServerAsync(primaries[i], "DBSIZE", database, static async (s, db) => (long)(await s.ExecuteAsync(db, "DBSIZE", [], StackExchange.Redis.CommandFlags.None).ConfigureAwait(false)), cancellationToken).AsTask();
        }

        await Task.WhenAll(infoTask, Task.WhenAll(sizeTasks)).ConfigureAwait(false);
        long keys = 0;
        foreach (var t in sizeTasks)
        {
            keys += t.Result;
        }

        long used = 0, hits = 0, misses = 0, evicted = 0, expired = 0, clients = 0;
        foreach (var info in infoTask.Result)
        {
            used += Field(info, "used_memory");
            hits += Field(info, "keyspace_hits");
            misses += Field(info, "keyspace_misses");
            evicted += Field(info, "evicted_keys");
            expired += Field(info, "expired_keys");
            clients += Field(info, "connected_clients");
        }

        return new RedisCacheStatistics
        {
            Primaries = primaries.Count,
            Keys = keys,
            UsedMemoryBytes = used,
            KeyspaceHits = hits,
            KeyspaceMisses = misses,
            EvictedKeys = evicted,
            ExpiredKeys = expired,
            ConnectedClients = clients,
        };
    }

    /// <summary>Parses the text of an <c>INFO</c> reply: <c>name:value</c> lines, <c># Section</c> headers skipped.</summary>
    private static Dictionary<string, string> ParseInfo(string? text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (text is null)
        {
            return values;
        }

        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.Length == 0 || trimmed[0] == '#')
            {
                continue;
            }

            var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                values[trimmed[..colon]] = trimmed[(colon + 1)..];
            }
        }

        return values;
    }

    private static long Field(RedisServerInfo info, string name) =>
        info.Values.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}
