using System.Collections.Concurrent;
using BitFaster.Caching.Lfu;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Memory;

/// <summary>Builds each cache under test the same way for every suite.</summary>
internal static class Peers
{
    public static ConcurrentDictionary<string, string> Dictionary() => new(Environment.ProcessorCount, 1024, StringComparer.Ordinal);

    public static InMemoryTier TaiCache(int capacity) => new(new InMemoryTierOptions { MaximumSize = capacity });

    public static ConcurrentLru<string, string> BitFasterLru(int capacity) => new(Environment.ProcessorCount, capacity, StringComparer.Ordinal);

    public static ConcurrentLfu<string, string> BitFasterLfu(int capacity) => new(capacity);

    public static MemoryCache MemoryCache(int? capacity) => new(new MemoryCacheOptions { SizeLimit = capacity });

    public static FusionCache FusionCache(int? capacity) =>
        new(new FusionCacheOptions { DefaultEntryOptions = new FusionCacheEntryOptions { Duration = TimeSpan.FromHours(1), Size = 1 } }, MemoryCache(capacity));

    public static (ServiceProvider Services, HybridCache Cache) HybridCache()
    {
        var services = new ServiceCollection();
        services.AddHybridCache(o => o.DefaultEntryOptions = new HybridCacheEntryOptions { Expiration = TimeSpan.FromHours(1), LocalCacheExpiration = TimeSpan.FromHours(1) });
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<HybridCache>());
    }

    /// <summary>Reads from HybridCache without ever calling a factory (a miss returns null).</summary>
    public static readonly HybridCacheEntryOptions HybridReadOnly = new() { Flags = HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCache };

    public static readonly MemoryCacheEntryOptions SizeOne = new() { Size = 1 };

    /// <summary>Runs <paramref name="body"/> on <paramref name="threads"/> threads at once, each with its own slice index.</summary>
    public static void OnThreads(int threads, Action<int> body)
    {
        if (threads == 1)
        {
            body(0);
            return;
        }

        var workers = new Thread[threads];
        using var start = new ManualResetEventSlim();
        for (var t = 0; t < threads; t++)
        {
            var slice = t;
            workers[t] = new Thread(() =>
            {
                start.Wait();
                body(slice);
            });
            workers[t].Start();
        }

        start.Set();
        foreach (var worker in workers)
        {
            worker.Join();
        }
    }
}
