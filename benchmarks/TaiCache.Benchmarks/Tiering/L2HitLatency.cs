using System.Diagnostics;
using System.Globalization;
using MessagePack;
using MessagePack.Resolvers;
using Microsoft.Extensions.Caching.Hybrid;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// Per-operation latency of an L2 hit (L1 miss), p50 and p99, as issue #6 states its target: every single read is
/// timed (BenchmarkDotNet's percentiles are of iteration means, not of operations). One caller, reads in rounds of
/// 2,000 per variant, the order rotating each round; TaiCache drops the key from L1 outside the timed region,
/// FusionCache skips its memory read and HybridCache its local read. Baseline: raw StackExchange.Redis GET plus
/// MessagePack deserialize of the same 43-byte POCO, on its own connection to the same server.
/// </summary>
internal static class L2HitLatency
{
    private const string Key = "bench:l2hit";
    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);

    public static async Task RunAsync(int rounds, int perRound)
    {
        using var redis = BenchRedis.Start();
        var prefix = $"l2lat:{Guid.NewGuid():N}:";
        var value = Product.Sample(42);
        var (tai, taiL1, _) = await PeerSetup.TaiCacheAsync(redis.Endpoint, prefix);
        var (taiThreadPool, taiThreadPoolL1, _) = await PeerSetup.TaiCacheAsync(redis.Endpoint, prefix, scheduling: TaiCache.Redis.RedisIoScheduling.ThreadPool);
        var fusion = PeerSetup.Fusion(redis.Endpoint, prefix + "fusion:");
        var (hybrid, services) = PeerSetup.Hybrid(redis.Endpoint, prefix + "hybrid:");
        var raw = await PeerSetup.RawAsync(redis.Endpoint);
        var db = raw.GetDatabase();
        var threadPoolConfiguration = StackExchange.Redis.ConfigurationOptions.Parse(redis.Endpoint);
        threadPoolConfiguration.SocketManager = StackExchange.Redis.SocketManager.ThreadPool;
        var rawThreadPool = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(threadPoolConfiguration);
        var dbThreadPool = rawThreadPool.GetDatabase();
        var rawKey = prefix + "raw";
        await tai.SetAsync(Key, value);
        await fusion.SetAsync(Key, value);
        await hybrid.SetAsync(Key, value);
        await db.StringSetAsync(rawKey, MessagePackSerializer.Serialize(value, Contractless));
        var fusionSkipL1 = new FusionCacheEntryOptions { Duration = PeerSetup.Duration, SkipMemoryCacheRead = true };
        var hybridSkipL1 = new HybridCacheEntryOptions { Expiration = PeerSetup.Duration, Flags = HybridCacheEntryFlags.DisableLocalCacheRead };

        var variants = new (string Name, Action? Before, Func<ValueTask<Product>> Read)[]
        {
            ("raw SE.Redis GET + MessagePack", null, async () => MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)await db.StringGetAsync(rawKey), Contractless)),
            ("TaiCache MultiTierCache.GetAsync", () => taiL1.Remove(Key), async () => (await tai.GetAsync<Product>(Key)).Value),
            ("TaiCache MultiTierCache.GetOrSetAsync", () => taiL1.Remove(Key), () => tai.GetOrSetAsync(Key, static _ => ValueTask.FromResult(Product.Sample(42)))),
            ("FusionCache (SkipMemoryCacheRead)", null, () => fusion.GetOrSetAsync<Product>(Key, static (_, _) => Task.FromResult(Product.Sample(42)), options: fusionSkipL1)),
            ("HybridCache (DisableLocalCacheRead)", null, () => hybrid.GetOrCreateAsync(Key, 0, static (_, _) => new ValueTask<Product>(Product.Sample(42)), hybridSkipL1)),
            ("TaiCache MultiTierCache.GetAsync, IoScheduling.ThreadPool", () => taiThreadPoolL1.Remove(Key), async () => (await taiThreadPool.GetAsync<Product>(Key)).Value),
            ("raw SE.Redis GET + MessagePack, SocketManager.ThreadPool", null, async () => MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)await dbThreadPool.StringGetAsync(rawKey), Contractless)),
        };

        var samples = variants.Select(_ => new List<long>(rounds * perRound)).ToArray();
        var roundMedians = variants.Select(_ => new List<double>()).ToArray();
        for (var round = -1; round < rounds; round++)
        {
            for (var n = 0; n < variants.Length; n++)
            {
                var v = (n + Math.Max(round, 0)) % variants.Length;
                var times = new long[perRound];
                for (var i = 0; i < perRound; i++)
                {
                    variants[v].Before?.Invoke();
                    var start = Stopwatch.GetTimestamp();
                    var read = await variants[v].Read();
                    times[i] = Stopwatch.GetTimestamp() - start;
                    if (read.Id != 42)
                    {
                        throw new InvalidOperationException($"{variants[v].Name} read the wrong value");
                    }
                }

                if (round >= 0)
                {
                    samples[v].AddRange(times);
                    roundMedians[v].Add(Percentile([.. times], 50));
                }
            }
        }

        Console.WriteLine($"L2 hit latency, one caller, {rounds} rounds x {perRound:N0} reads per variant (after one warm-up round), redis at {redis.Endpoint}");
        Console.WriteLine();
        Console.WriteLine("| variant | p50 (µs) | p99 (µs) | p50 / raw | p99 / raw | median of per-round p50 ratios |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        var raw50 = Percentile(samples[0], 50);
        var raw99 = Percentile(samples[0], 99);
        for (var v = 0; v < variants.Length; v++)
        {
            var p50 = Percentile(samples[v], 50);
            var p99 = Percentile(samples[v], 99);
            var ratios = roundMedians[v].Select((m, r) => m / roundMedians[0][r]).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {variants[v].Name} | {Micro(p50):F1} | {Micro(p99):F1} | {p50 / raw50:F2} | {p99 / raw99:F2} | {ratios[ratios.Length / 2]:F2} |"));
        }

        await tai.DisposeAsync();
        await taiThreadPool.DisposeAsync();
        fusion.Dispose();
        await services.DisposeAsync();
        await raw.DisposeAsync();
        await rawThreadPool.DisposeAsync();
    }

    private static double Micro(double ticks) => ticks * 1e6 / Stopwatch.Frequency;

    private static double Percentile(List<long> values, int percentile)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)];
    }
}
