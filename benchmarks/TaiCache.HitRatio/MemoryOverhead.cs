using System.Collections.Concurrent;
using BitFaster.Caching.Lfu;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Memory;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.HitRatio;

/// <summary>
/// Bytes each cache retains per entry beyond the key and value themselves: keys and one shared value are allocated
/// first, then each cache is filled with every key and the growth of the managed heap (after full GCs) is divided by
/// the entry count.
/// </summary>
internal static class MemoryOverhead
{
    public static void Run(int entries)
    {
        var keys = Enumerable.Range(0, entries).Select(i => $"user:{i:D7}").ToArray();
        var value = new object();
        Console.WriteLine($"| cache | bytes per entry ({entries:N0} entries, key and value excluded) |");
        Console.WriteLine("| --- | ---: |");
        Measure("ConcurrentDictionary", keys, () =>
        {
            var d = new ConcurrentDictionary<string, object>(StringComparer.Ordinal);
            foreach (var k in keys)
            {
                d[k] = value;
            }

            return d;
        });
        Measure("TaiCache InMemoryTier", keys, () =>
        {
            var c = new InMemoryTier(new InMemoryTierOptions { MaximumSize = entries });
            foreach (var k in keys)
            {
                c.Set(k, value);
            }

            return c;
        });
        Measure("BitFaster ConcurrentLru", keys, () =>
        {
            var c = new ConcurrentLru<string, object>(Environment.ProcessorCount, entries, StringComparer.Ordinal);
            foreach (var k in keys)
            {
                c.AddOrUpdate(k, value);
            }

            return c;
        });
        Measure("BitFaster ConcurrentLfu", keys, () =>
        {
            var c = new ConcurrentLfu<string, object>(entries);
            foreach (var k in keys)
            {
                c.AddOrUpdate(k, value);
            }

            c.DoMaintenance();
            return c;
        });
        Measure("MemoryCache", keys, () =>
        {
            var c = new MemoryCache(new MemoryCacheOptions());
            foreach (var k in keys)
            {
                c.Set(k, value);
            }

            return c;
        });
        Measure("FusionCache", keys, () =>
        {
            var c = new FusionCache(new FusionCacheOptions());
            foreach (var k in keys)
            {
                c.Set(k, value);
            }

            return c;
        });
    }

    private static void Measure(string name, string[] keys, Func<object> fill)
    {
        var before = Settle();
        var cache = fill();
        var after = Settle();
        Console.WriteLine($"| {name} | {(after - before) / (double)keys.Length:F1} |");
        GC.KeepAlive(cache);
        GC.KeepAlive(keys);
    }

    private static long Settle()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
