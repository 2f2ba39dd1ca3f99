using System.Diagnostics;
using System.Globalization;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Tiering;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// Sets from 50 concurrent tasks over 1,000 keys, in sets per second: raw StackExchange.Redis SET of a MessagePack
/// value, <see cref="TaiCache.Redis.RedisCache.SetAsync{T}"/>, a write-through <see cref="MultiTierCache"/> over Redis
/// alone and over L1 + Redis, and a write-behind one (acknowledged after L1); then deletes the same three ways (raw DEL,
/// <c>RedisCache</c>, <c>MultiTierCache</c> over Redis alone; their ratios are to raw SET too). With <c>reads</c>, L2 hits instead: raw
/// GET plus MessagePack, <c>RedisCache.GetAsync</c>, and <c>MultiTierCache.GetAsync</c> over Redis alone (no L1, so
/// every read is an L2 hit). The variants run in 200 ms slices, one
/// after the other, the order reversing each slice, so all of them see the same minutes of a shared VM; each variant's
/// ratio is to raw SET over the whole run, with the process's CPU time and allocations per set.
/// </summary>
internal static class WriteThroughput
{
    /// <summary>How many tasks set at once: 50, or <c>TAICACHE_THROUGHPUT_TASKS</c>.</summary>
    private static readonly int Tasks = int.TryParse(Environment.GetEnvironmentVariable("TAICACHE_THROUGHPUT_TASKS"), CultureInfo.InvariantCulture, out var tasks) && tasks > 0 ? tasks : 50;
    private const int Keys = 1_000;
    private const double SliceSeconds = 0.2;
    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);

    public static async Task RunAsync(double seconds, bool reads = false)
    {
        using var redis = BenchRedis.Start();
        var prefix = $"wtp:{Guid.NewGuid():N}:";
        var value = Product.Sample(7);
        var raw = await PeerSetup.RawAsync(redis.Endpoint);
        var db = raw.GetDatabase();
        var l2 = await TaiCache.Redis.RedisCache.ConnectAsync(redis.Endpoint, new TaiCache.Redis.RedisCacheOptions { KeyPrefix = prefix });
        var l2Only = MultiTier(l2, withL1: false, WriteStrategy.WriteThrough);
        var through = MultiTier(l2, withL1: true, WriteStrategy.WriteThrough);
        var behind = MultiTier(l2, withL1: true, WriteStrategy.WriteBehind);
        var journalPath = Path.Combine(Path.GetTempPath(), $"taicache-bench-journal-{Guid.NewGuid():N}.db");
        var journaled = MultiTier(l2, withL1: true, WriteStrategy.WriteBehind, journalPath);
        var keys = Enumerable.Range(0, Keys).Select(i => $"k{i}").ToArray();
        var rawKeys = keys.Select(k => (RedisKey)(prefix + "raw:" + k)).ToArray();

        var variants = reads ? [] : new (string Name, Func<int, Task> Set)[]
        {
            ("raw SE.Redis SET + MessagePack", k => db.StringSetAsync(rawKeys[k], MessagePackSerializer.Serialize(value, Contractless), PeerSetup.Duration)),
            ("RedisCache.SetAsync", k => l2.SetAsync(keys[k], value, PeerSetup.Duration).AsTask()),
            ("MultiTierCache write-through, Redis only", k => l2Only.SetAsync(keys[k], value).AsTask()),
            ("MultiTierCache write-through, L1 + Redis", k => through.SetAsync(keys[k], value).AsTask()),
            ("MultiTierCache write-behind, acknowledged", k => behind.SetAsync(keys[k], value).AsTask()),
            ("MultiTierCache write-behind, journaled (SQLite WAL), acknowledged", k => journaled.SetAsync(keys[k], value).AsTask()),
            ("raw SE.Redis DEL", k => db.KeyDeleteAsync(rawKeys[k])),
            ("RedisCache.DeleteAsync", k => l2.DeleteAsync(keys[k]).AsTask()),
            ("MultiTierCache.DeleteAsync, Redis only", k => l2Only.DeleteAsync(keys[k]).AsTask()),
        };
        using var fusion = PeerSetup.Fusion(redis.Endpoint, prefix + "fusion:");
        var (hybrid, hybridServices) = PeerSetup.Hybrid(redis.Endpoint, prefix + "hybrid:");
        var fusionL2Only = new ZiggyCreatures.Caching.Fusion.FusionCacheEntryOptions { Duration = PeerSetup.Duration, SkipMemoryCacheRead = true, SkipMemoryCacheWrite = true };
        var hybridL2Only = new Microsoft.Extensions.Caching.Hybrid.HybridCacheEntryOptions { Expiration = PeerSetup.Duration, Flags = Microsoft.Extensions.Caching.Hybrid.HybridCacheEntryFlags.DisableLocalCache };
        if (reads)
        {
            for (var k = 0; k < Keys; k++)
            {
                await db.StringSetAsync(rawKeys[k], MessagePackSerializer.Serialize(value, Contractless), PeerSetup.Duration);
                await l2.SetAsync(keys[k], value, PeerSetup.Duration);
                await fusion.SetAsync(keys[k], value, fusionL2Only);
                await hybrid.SetAsync(keys[k], value, hybridL2Only);
            }

            variants =
            [
                ("raw SE.Redis GET + MessagePack", async k => _ = MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)await db.StringGetAsync(rawKeys[k]), Contractless)),
                ("RedisCache.GetAsync", async k => _ = (await l2.GetAsync<Product>(keys[k])).Value),
                ("MultiTierCache.GetAsync, Redis only (every read an L2 hit)", async k => _ = (await l2Only.GetAsync<Product>(keys[k])).Value),
                ("MultiTierCache.GetOrSetAsync, Redis only (every read an L2 hit)", async k => _ = await l2Only.GetOrSetAsync(keys[k], static _ => ValueTask.FromResult(Product.Sample(0)))),
                ("FusionCache.GetOrSetAsync, memory cache skipped (System.Text.Json)", async k => _ = await fusion.GetOrSetAsync<Product>(keys[k], static (_, _) => Task.FromResult(Product.Sample(0)), options: fusionL2Only)),
                ("HybridCache.GetOrCreateAsync, DisableLocalCache (System.Text.Json)", async k => _ = await hybrid.GetOrCreateAsync(keys[k], 0, static (_, _) => ValueTask.FromResult(Product.Sample(0)), hybridL2Only)),
            ];
        }

        if (Environment.GetEnvironmentVariable("TAICACHE_THROUGHPUT_ONLY") is { } only)
        {
            variants = [.. only.Split(',').Select(i => variants[int.Parse(i, CultureInfo.InvariantCulture)])];
        }

        var sets = new long[variants.Length];
        var elapsed = new double[variants.Length];
        var cpu = new TimeSpan[variants.Length];
        var allocated = new long[variants.Length];
        using var process = Process.GetCurrentProcess();
        for (var slice = 0; slice < Math.Max(1, seconds / SliceSeconds); slice++)
        {
            for (var n = 0; n < variants.Length; n++)
            {
                var v = slice % 2 == 0 ? n : variants.Length - 1 - n;
                process.Refresh();
                var cpuBefore = process.TotalProcessorTime;
                var allocatedBefore = GC.GetTotalAllocatedBytes();
                var (count, time) = await MeasureAsync(variants[v].Set, reads);
                process.Refresh();
                cpu[v] += process.TotalProcessorTime - cpuBefore;
                allocated[v] += GC.GetTotalAllocatedBytes() - allocatedBefore;
                sets[v] += count;
                elapsed[v] += time;
            }
        }

        var what = reads ? "read" : "set";
        Console.WriteLine($"{(reads ? "Reads" : "Sets")} from {Tasks} tasks over {Keys:N0} keys, {seconds:F0} s per variant in {SliceSeconds * 1000:F0} ms slices, redis at {redis.Endpoint}");
        Console.WriteLine();
        Console.WriteLine($"| variant | {what}s/s | ratio to raw {(reads ? "GET" : "SET")} | client CPU ns per {what} | bytes allocated per {what} |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        var rawRate = sets[0] / elapsed[0];
        for (var v = 0; v < variants.Length; v++)
        {
            var rate = sets[v] / elapsed[v];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {variants[v].Name} | {rate:N0} | {rate / rawRate:F2} | {cpu[v].TotalNanoseconds / sets[v]:N0} | {allocated[v] / sets[v]:N0} |"));
        }

        await hybridServices.DisposeAsync();
        await behind.DisposeAsync();
        await journaled.DisposeAsync();
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(journalPath)!, Path.GetFileName(journalPath) + "*"))
        {
            File.Delete(file);
        }

        await through.DisposeAsync();
        await l2Only.DisposeAsync();
        await l2.DisposeAsync();
        await raw.DisposeAsync();
    }

    private static MultiTierCache MultiTier(TaiCache.Redis.RedisCache l2, bool withL1, WriteStrategy strategy, string? journalPath = null)
    {
        var options = new MultiTierCacheOptions { WriteStrategy = strategy, DefaultEntryOptions = new MultiTierEntryOptions { Ttl = PeerSetup.Duration } };
        if (journalPath is not null)
        {
            options.WriteBehind.JournalPath = journalPath;
        }

        if (withL1)
        {
            options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 100_000 }));
        }

        options.Tiers.Add(l2);
        return new MultiTierCache(options);
    }

    /// <summary>Runs one variant from every task for a slice. Readers start 20 keys apart, so no two ask for one key at
    /// once and a stampede guard has nothing to coalesce (every read is its own L2 round trip); writers start one key
    /// apart, as session 7 measured them.</summary>
    private static async Task<(long Sets, double Seconds)> MeasureAsync(Func<int, Task> set, bool reads)
    {
        long total = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(SliceSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            long n = 0;
            for (var i = reads ? t * (Keys / Tasks) : t; Stopwatch.GetTimestamp() < stopAt; i++)
            {
                await set(i % Keys);
                n++;
            }

            Interlocked.Add(ref total, n);
        })));
        return (total, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}
