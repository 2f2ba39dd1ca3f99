using System.Buffers;
using System.Diagnostics;
using System.Text;
using MessagePack;
using TaiCache.Serialization;
using Xunit.Abstractions;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// Issue 8, hostile values: MessagePack payloads an attacker who can write to the shared server could plant.
/// A map whose keys all collide under the default hash, an extension (typeless, ext 100) naming a .NET type to
/// create, and deep nesting: each is decoded or refused quickly and never instantiates the named type.
/// </summary>
public sealed class HostilePayloadTests
{
    private readonly ITestOutputHelper _output;

    public HostilePayloadTests(ITestOutputHelper output) => _output = output;

    private static byte[] Envelope(ReadOnlySpan<byte> messagePack)
    {
        var payload = new byte[5 + messagePack.Length];
        payload[0] = CacheValueCodec.Magic0;
        payload[1] = CacheValueCodec.Magic1;
        payload[2] = CacheValueCodec.FormatVersion;
        payload[3] = MessagePackCacheSerializer.SerializerId;
        messagePack.CopyTo(payload.AsSpan(5));
        return payload;
    }

    [Fact]
    public void Decode_MapOf10000KeysCollidingUnderDefaultHash_DecodedQuickly()
    {
        const int Count = 10_000;

        // long.GetHashCode() is (int)x ^ (int)(x >> 32): every key (i << 32) | i hashes to 0.
        var keys = Enumerable.Range(1, Count).Select(i => ((long)i << 32) | (uint)i).ToArray();
        Assert.All(keys.Take(100), k => Assert.Equal(0, k.GetHashCode()));
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(Count);
        foreach (var k in keys)
        {
            writer.Write(k);
            writer.Write(1);
        }

        writer.Flush();
        var payload = Envelope(buffer.WrittenSpan);

        var decoded = new CacheValueCodec().Decode<Dictionary<long, int>>("k", payload);
        Assert.Equal(Count, decoded.Count);

        // No timing (a loaded machine makes any bound flaky): the map must have been built with a comparer under which
        // these keys, all colliding under the default comparer, spread out again.
        Assert.NotSame(EqualityComparer<long>.Default, decoded.Comparer);
        var distinctHashes = keys.Select(k => decoded.Comparer.GetHashCode(k)).Distinct().Count();
        _output.WriteLine($"{Count} keys colliding under the default comparer: {distinctHashes} distinct hash codes under the decoded map's comparer");
        Assert.True(distinctHashes > Count * 9 / 10, $"only {distinctHashes} distinct hash codes: the decoded map is not collision-resistant");
    }

    [Theory]
    [InlineData(100)] // typeless
    [InlineData(99)]
    [InlineData(-1)] // timestamp code, malformed
    public void Decode_ExtensionNamingADotNetType_NeverInstantiatesIt(sbyte extType)
    {
        Canary.Created = 0;
        var typeName = typeof(Canary).AssemblyQualifiedName!;
        var inner = new ArrayBufferWriter<byte>();
        var iw = new MessagePackWriter(inner);
        iw.WriteString(Encoding.UTF8.GetBytes(typeName));
        iw.WriteMapHeader(1);
        iw.Write("Name");
        iw.Write("pwned");
        iw.Flush();
        var outer = new ArrayBufferWriter<byte>();
        var ow = new MessagePackWriter(outer);
        ow.WriteExtensionFormat(new ExtensionResult(extType, inner.WrittenMemory.ToArray()));
        ow.Flush();
        var payload = Envelope(outer.WrittenSpan);
        var codec = new CacheValueCodec();

        // The caller asks for other types (asking for Canary itself would of course create one): the type named in the
        // payload must never be created.
        var created = new List<int>();
        var watch = Stopwatch.StartNew();
        foreach (var decode in new Action[]
        {
            () => codec.Decode<object>("k", payload),
            () => codec.Decode<string>("k", payload),
            () => codec.Decode<Dictionary<string, object>>("k", payload),
            () => codec.Decode<object[]>("k", payload),
        })
        {
            try
            {
                decode();
            }
            catch (CacheSerializationException)
            {
                // refused: fine
            }

            created.Add(Canary.Created);
        }

        Assert.Equal([0, 0, 0, 0], created);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void Decode_DeeplyNestedMapsAndArrays_RefusedQuickly_ShallowAccepted()
    {
        var codec = new CacheValueCodec();
        foreach (var opener in new byte[] { 0x91, 0x81 })
        {
            var buffer = new ArrayBufferWriter<byte>();
            var w = new MessagePackWriter(buffer);
            for (var i = 0; i < 100_000; i++)
            {
                if (opener == 0x81)
                {
                    w.WriteMapHeader(1);
                    w.Write("a");
                }
                else
                {
                    w.WriteArrayHeader(1);
                }
            }

            w.Write(1);
            w.Flush();
            var watch = Stopwatch.StartNew();
            Assert.Throws<CacheSerializationException>(() => codec.Decode<object>("k", Envelope(buffer.WrittenSpan)));
            _output.WriteLine($"100,000-deep {(opener == 0x81 ? "maps" : "arrays")} refused in {watch.Elapsed.TotalMilliseconds:F1} ms");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1));
        }

        var ok = codec.Encode("k", new object[] { new object[] { new object[] { 1 } } });
        Assert.NotNull(codec.Decode<object>("k", ok));
    }

    [Fact]
    public void Encode_TypelessResolver_IsRefusedAtConstruction()
    {
        var typeless = MessagePackSerializerOptions.Standard.WithResolver(MessagePack.Resolvers.TypelessContractlessStandardResolver.Instance);
        Assert.ThrowsAny<ArgumentException>(() => new MessagePackCacheSerializer(typeless));
    }

    /// <summary>A type a hostile payload names; counts every instance created.</summary>
    public sealed class Canary
    {
        private static int _created;

        public Canary() => Interlocked.Increment(ref _created);

        public static int Created { get => Volatile.Read(ref _created); set => Volatile.Write(ref _created, value); }

        public string? Name { get; set; }
    }
}
