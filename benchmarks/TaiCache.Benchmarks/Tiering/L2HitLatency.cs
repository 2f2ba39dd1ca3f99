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

        await LatencyRounds.RunAsync($"L2 hit latency, redis at {redis.Endpoint}", [.. variants.Select(v => (v.Name, v.Before, Checked(v.Name, v.Read)))], rounds, perRound);

        await tai.DisposeAsync();
        await taiThreadPool.DisposeAsync();
        fusion.Dispose();
        await services.DisposeAsync();
        await raw.DisposeAsync();
        await rawThreadPool.DisposeAsync();
    }

    /// <summary>The read, failing the run if it returns the wrong value.</summary>
    private static Func<ValueTask> Checked(string name, Func<ValueTask<Product>> read) => async () =>
    {
        if ((await read()).Id != 42)
        {
            throw new InvalidOperationException($"{name} read the wrong value");
        }
    };
}
