using System.Diagnostics;
using System.Globalization;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Tiering;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// Batch reads of 100 keys through L2 from 4 concurrent tasks, in keys per second, as issue #6 states its target:
/// raw StackExchange.Redis MGET plus 100 MessagePack deserializations, against TaiCache's <c>GetManyAsync</c> on
/// <see cref="TaiCache.Redis.RedisCache"/> alone, on a <see cref="MultiTierCache"/> whose L1 never holds the keys
/// (lazy-load), and on one that copies every L2 hit into a small, churning L1 (read-through, the cold-L1 case).
/// Every variant reads the same 20,000 stored values in windows of 100. A round runs the variants in 100 ms slices,
/// one after the other with the order rotating, until each has had its seconds: a shared VM's speed swings by 2x
/// within seconds here, so only slices a few hundred milliseconds apart are compared. Each variant's median of rounds
/// is reported with the median of its per-round ratios to raw MGET, and with the client process's CPU time per key
/// read (all its threads, the client library's included), which the VM's swings move less than throughput.
/// Another variant reads TaiCache's own stored values with the raw client, skipping the header: it costs what raw MGET
/// does, so the envelope (5 bytes here) is not where TaiCache's overhead lies. The last three put both sides on the
/// thread pool instead of StackExchange.Redis's dedicated reader threads (<c>SocketManager.ThreadPool</c>,
/// <c>RedisIoScheduling.ThreadPool</c>). The last is lazy-load again over an L1 full of other keys: what read-through's
/// misses cost without its copies. Set <c>TAICACHE_BATCH_TASKS</c> to run
/// with another number of tasks.
/// </summary>
internal static class BatchThroughput
{
    private static readonly int Tasks = int.Parse(Environment.GetEnvironmentVariable("TAICACHE_BATCH_TASKS") ?? "4", CultureInfo.InvariantCulture);
    private const int Batch = 100;
    private const int Keys = 20_000;
    private const double SliceSeconds = 0.1;

    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);

    public static async Task RunAsync(double secondsPerRound, int rounds)
    {
        using var redis = BenchRedis.Start();
        var prefix = $"bt:{Guid.NewGuid():N}:";
        var raw = await PeerSetup.RawAsync(redis.Endpoint);
        var db = raw.GetDatabase();

        // Both sides once more on the thread pool (SocketManager.ThreadPool, RedisIoScheduling.ThreadPool): configured
        // alike the other way.
        var threadPoolConfiguration = ConfigurationOptions.Parse(redis.Endpoint);
        threadPoolConfiguration.SocketManager = SocketManager.ThreadPool;
        var rawThreadPool = await ConnectionMultiplexer.ConnectAsync(threadPoolConfiguration);
        var dbThreadPool = rawThreadPool.GetDatabase();
        var l2 = await TaiCache.Redis.RedisCache.ConnectAsync(redis.Endpoint, new TaiCache.Redis.RedisCacheOptions { KeyPrefix = prefix });
        var l2ThreadPool = await TaiCache.Redis.RedisCache.ConnectAsync(redis.Endpoint, new TaiCache.Redis.RedisCacheOptions { KeyPrefix = prefix, IoScheduling = TaiCache.Redis.RedisIoScheduling.ThreadPool });
        var keys = Enumerable.Range(0, Keys).Select(i => $"product:{i}").ToArray();
        var rawKeys = keys.Select(k => (RedisKey)(prefix + "raw:" + k)).ToArray();
        var storedKeys = keys.Select(k => (RedisKey)(prefix + k)).ToArray();
        for (var start = 0; start < Keys; start += 1000)
        {
            await l2.SetManyAsync(keys.Skip(start).Take(1000).Select((k, i) => KeyValuePair.Create(k, Product.Sample(start + i))));
            await Task.WhenAll(Enumerable.Range(start, 1000).Select(i => db.StringSetAsync(rawKeys[i], MessagePackSerializer.Serialize(Product.Sample(i), Contractless))));
        }

        var lazy = Tier(l2, ReadStrategy.LazyLoad, 1_000);
        var lazyFull = Tier(l2, ReadStrategy.LazyLoad, 1_000);
        var l1Full = (InMemoryTier)lazyFull.Tiers[0];
        for (var i = 0; i < 1_000; i++)
        {
            l1Full.Set($"other:{i}", Product.Sample(i));
        }

        var through = Tier(l2, ReadStrategy.ReadThrough, 1_000);
        var throughThreadPool = Tier(l2ThreadPool, ReadStrategy.ReadThrough, 1_000);
        var windows = Enumerable.Range(0, Keys / Batch).Select(w => keys.AsSpan(w * Batch, Batch).ToArray()).ToArray();
        var rawWindows = Enumerable.Range(0, Keys / Batch).Select(w => rawKeys.AsSpan(w * Batch, Batch).ToArray()).ToArray();
        var storedWindows = Enumerable.Range(0, Keys / Batch).Select(w => storedKeys.AsSpan(w * Batch, Batch).ToArray()).ToArray();

        var variants = new (string Name, Func<int, Task<int>> Read)[]
        {
            ("raw SE.Redis MGET + MessagePack", RawRead(db, rawWindows)),
            ("raw SE.Redis MGET + MessagePack, keys built per call (prefix + key)", async w =>
            {
                var window = windows[w];
                var keys = new RedisKey[window.Length];
                for (var i = 0; i < keys.Length; i++)
                {
                    keys[i] = prefix + "raw:" + window[i];
                }

                var values = await db.StringGetAsync(keys);
                var n = 0;
                foreach (var v in values)
                {
                    n += MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)v, Contractless).Id >= 0 ? 1 : 0;
                }

                return n;
            }),
            ("RedisCache.GetManyAsync", async w => (await l2.GetManyAsync<Product>(windows[w])).Count),
            ("MultiTierCache.GetManyAsync, L1 never holds the keys (lazy-load)", async w => (await lazy.GetManyAsync<Product>(windows[w])).Count),
            ("MultiTierCache.GetManyAsync, read-through into a churning 1k-entry L1", async w => (await through.GetManyAsync<Product>(windows[w])).Count),
            ("raw SE.Redis MGET + MessagePack of TaiCache's stored values (header skipped)", async w =>
            {
                var values = await db.StringGetAsync(storedWindows[w]);
                var n = 0;
                foreach (var v in values)
                {
                    n += MessagePackSerializer.Deserialize<Product>(Payload(v), Contractless).Id >= 0 ? 1 : 0;
                }

                return n;
            }),
            ("raw SE.Redis MGET + MessagePack, SocketManager.ThreadPool", RawRead(dbThreadPool, rawWindows)),
            ("MultiTierCache.GetManyAsync, read-through into a churning 1k-entry L1, IoScheduling.ThreadPool", async w => (await throughThreadPool.GetManyAsync<Product>(windows[w])).Count),
            ("RedisCache.GetManyAsync, IoScheduling.ThreadPool", async w => (await l2ThreadPool.GetManyAsync<Product>(windows[w])).Count),
            ("MultiTierCache.GetManyAsync, lazy-load, L1 full of 1k other keys (its misses walk a full table)", async w => (await lazyFull.GetManyAsync<Product>(windows[w])).Count),
        };

        var only = Environment.GetEnvironmentVariable("TAICACHE_BATCH_ONLY");
        if (only is not null)
        {
            variants = [.. only.Split(',').Select(i => variants[int.Parse(i, CultureInfo.InvariantCulture)])];
        }

        Console.WriteLine($"Batch reads of {Batch} keys through L2, {Tasks} tasks, {secondsPerRound:F1} s per variant per round in {SliceSeconds * 1000:F0} ms slices, {rounds} rounds, redis at {redis.Endpoint}");
        var results = variants.Select(_ => new List<double>()).ToArray();
        var ratios = variants.Select(_ => new List<double>()).ToArray();
        var cpuPerKey = variants.Select(_ => new List<double>()).ToArray();
        var gcsPerThousandBatches = variants.Select(_ => new List<double>()).ToArray();
        var switchesPerBatch = variants.Select(_ => new List<double>()).ToArray();
        var pausePerBatch = variants.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            // Slices of every variant in turn, the order rotating each slice, so no variant always runs first (or right
            // after the same neighbour) and all of them see the same minutes of the machine.
            var keysRead = new long[variants.Length];
            var seconds = new double[variants.Length];
            var cpu = new TimeSpan[variants.Length];
            var gcs = new int[variants.Length];
            var switches = new long[variants.Length];
            var pauses = new TimeSpan[variants.Length];
            using var process = Process.GetCurrentProcess();
            var slices = (int)Math.Max(1, Math.Round(secondsPerRound / SliceSeconds));
            for (var slice = 0; slice < slices; slice++)
            {
                for (var n = 0; n < variants.Length; n++)
                {
                    var v = (n + slice + round) % variants.Length;
                    process.Refresh();
                    var cpuBefore = process.TotalProcessorTime;
                    var gcsBefore = GC.CollectionCount(0);
                    var switchesBefore = ContextSwitches();
                    var pauseBefore = GC.GetTotalPauseDuration();
                    var (read, elapsed) = await MeasureAsync(variants[v].Read, windows.Length, SliceSeconds);
                    process.Refresh();
                    cpu[v] += process.TotalProcessorTime - cpuBefore;
                    gcs[v] += GC.CollectionCount(0) - gcsBefore;
                    switches[v] += ContextSwitches() - switchesBefore;
                    pauses[v] += GC.GetTotalPauseDuration() - pauseBefore;
                    keysRead[v] += read;
                    seconds[v] += elapsed;
                }
            }

            var measured = keysRead.Select((k, v) => k / seconds[v]).ToArray();
            for (var v = 0; v < variants.Length; v++)
            {
                results[v].Add(measured[v]);
                ratios[v].Add(measured[v] / measured[0]);
                cpuPerKey[v].Add(cpu[v].TotalNanoseconds / keysRead[v]);
                gcsPerThousandBatches[v].Add(gcs[v] * 1000.0 * Batch / keysRead[v]);
                switchesPerBatch[v].Add(switches[v] * (double)Batch / keysRead[v]);
                pausePerBatch[v].Add(pauses[v].TotalNanoseconds * Batch / keysRead[v]);
            }
        }

        Console.WriteLine();
        Console.WriteLine("| variant | keys/s (median of rounds) | best round | median per-round ratio to raw | client CPU ns per key (median) | bytes allocated per batch | gen0 GCs per 1,000 batches | GC pause ns per batch | context switches per batch |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (var v = 0; v < variants.Length; v++)
        {
            var bytes = await AllocatedPerBatchAsync(variants[v].Read, windows.Length);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {variants[v].Name} | {Statistics.Median(results[v]):N0} | {results[v].Max():N0} | {Statistics.Median(ratios[v]):F2} | {Statistics.Median(cpuPerKey[v]):N0} | {bytes:N0} | {Statistics.Median(gcsPerThousandBatches[v]):F1} | {Statistics.Median(pausePerBatch[v]):N0} | {Statistics.Median(switchesPerBatch[v]):F2} |"));
        }

        await lazy.DisposeAsync();
        await lazyFull.DisposeAsync();
        await through.DisposeAsync();
        await throughThreadPool.DisposeAsync();
        await l2.DisposeAsync();
        await l2ThreadPool.DisposeAsync();
        await raw.DisposeAsync();
        await rawThreadPool.DisposeAsync();
    }

    /// <summary>The context switches of all the process's threads so far (Linux, from /proc), or 0 where that is not there.</summary>
    private static long ContextSwitches()
    {
        const string tasks = "/proc/self/task";
        if (!Directory.Exists(tasks))
        {
            return 0;
        }

        long total = 0;
        foreach (var task in Directory.EnumerateDirectories(tasks))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return total;
    }

    /// <summary>Raw MGET of one window of keys and a MessagePack deserialization of each value; returns how many were read.</summary>
    private static Func<int, Task<int>> RawRead(IDatabase database, RedisKey[][] windows) => async w =>
    {
        var values = await database.StringGetAsync(windows[w]);
        var n = 0;
        foreach (var v in values)
        {
            n += MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)v, Contractless).Id >= 0 ? 1 : 0;
        }

        return n;
    };

    /// <summary>The MessagePack payload of a value TaiCache stored: after the 5-byte header, and the 8-byte expiry when the flags say one follows.</summary>
    private static ReadOnlyMemory<byte> Payload(RedisValue stored)
    {
        var bytes = (ReadOnlyMemory<byte>)stored;
        return bytes[((bytes.Span[4] & 2) != 0 ? 13 : 5)..];
    }

    private static MultiTierCache Tier(TaiCache.Redis.RedisCache l2, ReadStrategy strategy, int l1Size)
    {
        var options = new MultiTierCacheOptions { ReadStrategy = strategy, DefaultEntryOptions = new MultiTierEntryOptions { Ttl = PeerSetup.Duration } };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = l1Size }));
        options.Tiers.Add(l2);
        return new MultiTierCache(options);
    }

    private static async Task<(long Keys, double Seconds)> MeasureAsync(Func<int, Task<int>> read, int windows, double seconds)
    {
        long total = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            long read100 = 0;
            for (var w = t * 50 % windows; Stopwatch.GetTimestamp() < stopAt; w = (w + 1) % windows)
            {
                var n = await read(w);
                if (n != Batch)
                {
                    throw new InvalidOperationException($"expected {Batch} hits, got {n}");
                }

                read100 += n;
            }

            Interlocked.Add(ref total, read100);
        })).ToArray();
        await Task.WhenAll(workers);
        return (total, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>Bytes the whole process allocates per batch over 200 sequential batches (the client's reader threads included).</summary>
    private static async Task<long> AllocatedPerBatchAsync(Func<int, Task<int>> read, int windows)
    {
        const int batches = 200;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < batches; i++)
        {
            await read(i % windows);
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / batches;
    }
}
