using System.Diagnostics;
using System.Globalization;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Serialization;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// The client-side CPU of reading a batch of 100 values, without the network: MessagePack on the raw payloads (what
/// the raw MGET variant of <see cref="BatchThroughput"/> does), <see cref="MessagePackCacheSerializer"/> on the same
/// payloads, the codec on TaiCache's stored bytes (header included), and everything <c>RedisCache.GetManyAsync</c>
/// does around the round trip (key checks, the key array, decoding, the result dictionary). Variants alternate in
/// chunks of 200 batches; the mean over 180 rounds (after 20 of warm-up) is reported in microseconds per batch.
/// </summary>
internal static class BatchDecodeCost
{
    private const int Batch = 100;

    private static readonly MessagePackSerializerOptions Contractless = ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);

    public static void Run()
    {
        var keys = Enumerable.Range(0, Batch).Select(i => $"product:{i}").ToArray();
        var raw = keys.Select((_, i) => (RedisValue)MessagePackSerializer.Serialize(Product.Sample(i), Contractless)).ToArray();
        var stored = keys.Select((k, i) => (RedisValue)CacheValueCodec.Default.Encode(k, Product.Sample(i))).ToArray();
        var codec = CacheValueCodec.Default;
        var serializer = MessagePackCacheSerializer.Default;
        RedisKey prefix = System.Text.Encoding.UTF8.GetBytes("bench:");
        var variants = new (string Name, Func<long> Read)[]
        {
            ("MessagePackSerializer.Deserialize on raw payloads (the raw MGET variant)", () =>
            {
                long n = 0;
                foreach (var v in raw)
                {
                    n += MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)v, Contractless).Id;
                }

                return n;
            }),
            ("MessagePackCacheSerializer.Deserialize on the same payloads", () =>
            {
                long n = 0;
                foreach (var v in raw)
                {
                    n += serializer.Deserialize<Product>((ReadOnlyMemory<byte>)v).Id;
                }

                return n;
            }),
            ("CacheValueCodec.Decode on TaiCache's stored bytes", () =>
            {
                long n = 0;
                for (var i = 0; i < stored.Length; i++)
                {
                    n += codec.Decode<Product>(keys[i], (ReadOnlyMemory<byte>)stored[i], out _).Id;
                }

                return n;
            }),
            ("all of RedisCache.GetManyAsync's client side: key checks, prefixed keys, decode, dictionary", () =>
            {
                var list = CacheKeyRules.ValidateEach(keys);
                var physical = new RedisKey[list.Count];
                for (var i = 0; i < physical.Length; i++)
                {
                    physical[i] = ((RedisKey)list[i]).Prepend(prefix);
                }

                var results = new CacheResult<Product>[list.Count];
                for (var i = 0; i < stored.Length; i++)
                {
                    results[i] = new CacheResult<Product>(codec.Decode<Product>(list[i], (ReadOnlyMemory<byte>)stored[i], out var expiresAt), expiresAt);
                }

                long n = physical.Length;
                foreach (var (_, value) in BatchResults.ToDictionary(list, results))
                {
                    n += value.Id;
                }

                return n;
            }),
        };

        long sink = 0;
        var totals = new double[variants.Length];
        const int warmup = 20, rounds = 200, perChunk = 200;
        for (var round = 0; round < rounds; round++)
        {
            for (var v = 0; v < variants.Length; v++)
            {
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < perChunk; i++)
                {
                    sink += variants[v].Read();
                }

                if (round >= warmup)
                {
                    totals[v] += Stopwatch.GetElapsedTime(start).TotalMicroseconds / perChunk;
                }
            }
        }

        Console.WriteLine($"Client-side CPU of one batch of {Batch} values (43-byte MessagePack POCO), no network, {rounds - warmup} rounds");
        Console.WriteLine();
        Console.WriteLine("| path | us per batch (mean) |");
        Console.WriteLine("| --- | ---: |");
        for (var v = 0; v < variants.Length; v++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {variants[v].Name} | {totals[v] / (rounds - warmup):F1} |"));
        }

        GC.KeepAlive(sink);
    }
}
