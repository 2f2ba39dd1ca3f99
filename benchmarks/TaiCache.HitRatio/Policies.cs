using BitFaster.Caching.Lfu;
using BitFaster.Caching.Lru;
using BitFaster.Caching.Scheduler;
using Microsoft.Extensions.Caching.Memory;

namespace TaiCache.HitRatio;

/// <summary>Each replays a trace on one cache of a given size and returns the hit ratio in percent. A miss inserts the key.</summary>
internal static class Policies
{
    public static double TaiCache(AccessTrace trace, int size, out long window)
    {
        var cache = new InMemoryTier(new InMemoryTierOptions { MaximumSize = size });
        var names = trace.Names;
        long hits = 0;
        foreach (var id in trace.Ids)
        {
            var key = names[id];
            if (cache.TryGet<string>(key, out _))
            {
                hits++;
            }
            else
            {
                cache.Set(key, key);
            }
        }

        window = cache.GetStatistics().WindowMaximum;
        return Percent(hits, trace.Ids.Length);
    }

    /// <summary>
    /// The trace cut into batches of <paramref name="batch"/> accesses, as a multi-tier batch read-through meets it:
    /// every key of a batch is looked up first, then the misses are copied in at once (<c>SetHits</c>).
    /// </summary>
    public static double TaiCacheBatched(AccessTrace trace, int size, int batch)
    {
        var cache = new InMemoryTier(new InMemoryTierOptions { MaximumSize = size });
        var names = trace.Names;
        var ids = trace.Ids;
        var missed = new List<string>(batch);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long hits = 0;
        for (var start = 0; start < ids.Length; start += batch)
        {
            missed.Clear();
            seen.Clear();
            var end = Math.Min(ids.Length, start + batch);
            for (var i = start; i < end; i++)
            {
                var key = names[ids[i]];
                if (cache.TryGet<string>(key, out _))
                {
                    hits++;
                }
                else if (seen.Add(key))
                {
                    missed.Add(key);
                }
            }

            var results = new CacheResult<string>[missed.Count];
            for (var i = 0; i < results.Length; i++)
            {
                results[i] = new CacheResult<string>(missed[i]);
            }

            cache.SetHits(missed, results, ttl: null, cache.WriteMark);
        }

        return Percent(hits, ids.Length);
    }

    public static double ExactLru(AccessTrace trace, int size)
    {
        // Array-based doubly linked list over dense ids.
        var n = trace.Keys.Length;
        var prev = new int[n];
        var next = new int[n];
        var inCache = new bool[n];
        int head = -1, tail = -1, count = 0;
        long hits = 0;
        foreach (var id in trace.Ids)
        {
            if (inCache[id])
            {
                hits++;
                if (head == id)
                {
                    continue;
                }

                Unlink(id);
            }
            else
            {
                if (count == size)
                {
                    var victim = tail;
                    Unlink(victim);
                    inCache[victim] = false;
                    count--;
                }

                inCache[id] = true;
                count++;
            }

            prev[id] = -1;
            next[id] = head;
            if (head >= 0)
            {
                prev[head] = id;
            }

            head = id;
            if (tail < 0)
            {
                tail = id;
            }
        }

        return Percent(hits, trace.Ids.Length);

        void Unlink(int id)
        {
            if (prev[id] >= 0)
            {
                next[prev[id]] = next[id];
            }
            else
            {
                head = next[id];
            }

            if (next[id] >= 0)
            {
                prev[next[id]] = prev[id];
            }
            else
            {
                tail = prev[id];
            }
        }
    }

    public static double BitFasterLru(AccessTrace trace, int size)
    {
        var cache = new ConcurrentLru<long, long>(size);
        return Replay(trace, k => cache.TryGet(k, out _), k => cache.AddOrUpdate(k, k));
    }

    public static double BitFasterLfu(AccessTrace trace, int size)
    {
        var cache = new ConcurrentLfu<long, long>(1, size, new ForegroundScheduler(), EqualityComparer<long>.Default);
        return Replay(trace, k => cache.TryGet(k, out _), k => cache.AddOrUpdate(k, k));
    }

    public static double MemoryCache(AccessTrace trace, int size)
    {
        using var cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = size });
        var options = new MemoryCacheEntryOptions { Size = 1 };
        return Replay(trace, k => cache.TryGetValue(k, out _), k => cache.Set(k, k, options));
    }

    /// <summary>Belady's MIN: on a miss with a full cache, drop whichever (cached or incoming) key is next used farthest ahead.</summary>
    public static double Belady(AccessTrace trace, int size)
    {
        var ids = trace.Ids;
        var nextUse = new int[ids.Length];
        var last = new int[trace.Keys.Length];
        Array.Fill(last, int.MaxValue);
        for (var i = ids.Length - 1; i >= 0; i--)
        {
            nextUse[i] = last[ids[i]];
            last[ids[i]] = i;
        }

        var cachedNext = new int[trace.Keys.Length];
        var inCache = new bool[trace.Keys.Length];
        var heap = new PriorityQueue<int, int>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        var count = 0;
        long hits = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if (inCache[id])
            {
                hits++;
            }
            else
            {
                if (count == size)
                {
                    // Find the cached key used farthest ahead (skipping stale heap entries).
                    while (heap.TryPeek(out var top, out var priority) && (!inCache[top] || cachedNext[top] != priority))
                    {
                        heap.Dequeue();
                    }

                    heap.TryPeek(out var victim, out var farthest);
                    if (nextUse[i] >= farthest)
                    {
                        continue; // the incoming key is the one used last: bypass it
                    }

                    heap.Dequeue();
                    inCache[victim] = false;
                    count--;
                }

                inCache[id] = true;
                count++;
            }

            cachedNext[id] = nextUse[i];
            heap.Enqueue(id, nextUse[i]);
            if (heap.Count > 4 * size + 1024)
            {
                Rebuild();
            }
        }

        return Percent(hits, ids.Length);

        void Rebuild()
        {
            var live = new List<(int, int)>(size);
            while (heap.TryDequeue(out var id, out var p))
            {
                if (inCache[id] && cachedNext[id] == p)
                {
                    live.Add((id, p));
                }
            }

            heap.EnqueueRange(live);
        }
    }

    private static double Replay(AccessTrace trace, Func<long, bool> get, Action<long> set)
    {
        var keys = trace.Keys;
        long hits = 0;
        foreach (var id in trace.Ids)
        {
            var key = keys[id];
            if (get(key))
            {
                hits++;
            }
            else
            {
                set(key);
            }
        }

        return Percent(hits, trace.Ids.Length);
    }

    private static double Percent(long hits, long total) => 100.0 * hits / total;
}
