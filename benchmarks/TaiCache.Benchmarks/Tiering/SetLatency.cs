using MessagePack;
using MessagePack.Resolvers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;
using ZiggyCreatures.Caching.Fusion.Backplane.StackExchangeRedis;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// Per-operation latency of a write-through set (and delete) that must also tell the other instances, one caller:
/// raw StackExchange.Redis SET, then SET followed by PUBLISH (two round trips, the shape of "write, then notify"),
/// TaiCache's <see cref="MultiTierCache"/> (L1 + Redis) without coherence, with <see cref="CacheCoherence"/> on the Redis
/// tier's own connection (the invalidation issued right behind the write) and on a connection of its own (published
/// after the write's reply), and FusionCache with its Redis backplane (which publishes in the background by default).
/// </summary>
internal static class SetLatency
{
    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);

    public static async Task RunAsync(int rounds, int perRound)
    {
        using var redis = BenchRedis.Start();
        var prefix = $"setlat:{Guid.NewGuid():N}:";
        var value = Product.Sample(42);
        var raw = await PeerSetup.RawAsync(redis.Endpoint);
        var db = raw.GetDatabase();
        var channel = RedisChannel.Literal(prefix + "channel");
        var rawKey = (RedisKey)(prefix + "raw");

        var (plain, _, _) = await PeerSetup.TaiCacheAsync(redis.Endpoint, prefix + "plain:");
        var (sharedCache, sharedCoherence, _) = await WithCoherenceAsync(redis.Endpoint, prefix + "shared:", ownConnection: false);
        var (ownCache, ownCoherence, ownConnection) = await WithCoherenceAsync(redis.Endpoint, prefix + "own:", ownConnection: true);

        using var fusion = PeerSetup.Fusion(redis.Endpoint, prefix + "fusion:");
        fusion.SetupBackplane(new RedisBackplane(Options.Create(new RedisBackplaneOptions { Configuration = redis.Endpoint }), NullLogger<RedisBackplane>.Instance));
        await fusion.SetAsync("warm", value);

        var batch = Enumerable.Range(0, 10).Select(i => KeyValuePair.Create($"batch:{i}", value)).ToArray();
        var variants = new (string Name, Action? Before, Func<ValueTask> Operation)[]
        {
            ("raw SE.Redis SET + MessagePack", null, async () => await db.StringSetAsync(rawKey, MessagePackSerializer.Serialize(value, Contractless), PeerSetup.Duration)),
            ("raw SET, then PUBLISH after its reply", null, async () =>
            {
                await db.StringSetAsync(rawKey, MessagePackSerializer.Serialize(value, Contractless), PeerSetup.Duration);
                await db.PublishAsync(channel, "k");
            }),
            ("TaiCache write-through L1 + Redis, no coherence", null, () => plain.SetAsync("k", value)),
            ("TaiCache write-through + coherence on the tier's connection", null, () => sharedCache.SetAsync("k", value)),
            ("TaiCache write-through + coherence on its own connection", null, () => ownCache.SetAsync("k", value)),
            ("FusionCache SetAsync + Redis backplane (background publish)", null, () => fusion.SetAsync("k", value)),
            ("TaiCache DeleteAsync + coherence on the tier's connection", null, async () => await sharedCache.DeleteAsync("k")),
            ("TaiCache DeleteAsync + coherence on its own connection", null, async () => await ownCache.DeleteAsync("k")),
            ("TaiCache SetManyAsync of 10 + coherence on the tier's connection", null, () => sharedCache.SetManyAsync(batch)),
            ("TaiCache SetManyAsync of 10 + coherence on its own connection", null, () => ownCache.SetManyAsync(batch)),
        };

        await LatencyRounds.RunAsync($"Write-through set and delete latency, redis at {redis.Endpoint}", variants, rounds, perRound);

        await plain.DisposeAsync();
        await sharedCoherence.DisposeAsync();
        await sharedCache.DisposeAsync();
        await ownCoherence.DisposeAsync();
        await ownCache.DisposeAsync();
        await ownConnection!.DisposeAsync();
        await raw.DisposeAsync();
    }

    /// <summary>L1 + Redis with coherence on the tier's connection, or on one of its own (returned, to dispose).</summary>
    private static async Task<(MultiTierCache Cache, CacheCoherence Coherence, ConnectionMultiplexer? Connection)> WithCoherenceAsync(string endpoint, string prefix, bool ownConnection)
    {
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 100_000 });
        var l2 = await TaiCache.Redis.RedisCache.ConnectAsync(endpoint, new TaiCache.Redis.RedisCacheOptions { KeyPrefix = prefix });
        var connection = ownConnection ? await ConnectionMultiplexer.ConnectAsync(endpoint) : null;
        var coherence = new CacheCoherence(connection ?? await l2.GetMultiplexerAsync(), l1, new CacheCoherenceOptions { Namespace = "setlat", InstanceId = ownConnection ? "own" : "shared" });
        await coherence.StartAsync();
        var options = new MultiTierCacheOptions { Coherence = coherence, DefaultEntryOptions = new MultiTierEntryOptions { Ttl = PeerSetup.Duration } };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), coherence, connection);
    }
}
