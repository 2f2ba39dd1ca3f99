using System.Runtime.CompilerServices;
using TaiCache.Redis;

namespace TaiCache.Tests.Redis;

/// <summary>Small helpers shared by the Redis tests.</summary>
internal static class RedisTestHelpers
{
    /// <summary>A namespace unique to the calling test and this run.</summary>
    public static string UniquePrefix(string testClass, [CallerMemberName] string test = "") => $"{testClass}:{test}:{Guid.NewGuid():N}:";

    /// <summary>Connects a cache with its own prefix.</summary>
    public static Task<RedisCache> ConnectAsync(string connectionString, string prefix, Action<RedisCacheOptions>? configure = null)
    {
        var options = new RedisCacheOptions { KeyPrefix = prefix };
        configure?.Invoke(options);
        return RedisCache.ConnectAsync(connectionString, options);
    }

    /// <summary>Lists every key of a scan.</summary>
    public static async Task<List<string>> ToListAsync(IAsyncEnumerable<string> keys)
    {
        var list = new List<string>();
        await foreach (var key in keys)
        {
            list.Add(key);
        }

        list.Sort(StringComparer.Ordinal);
        return list;
    }
}
