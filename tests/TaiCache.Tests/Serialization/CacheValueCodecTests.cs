using TaiCache.Serialization;
using TaiCache.Tests.Contract;

namespace TaiCache.Tests.Serialization;

public sealed class CacheValueCodecTests
{
    [Fact]
    public void Encode_SmallValue_HasHeaderAndRoundTrips()
    {
        var codec = new CacheValueCodec();
        var bytes = codec.Encode("k", new OrderLine("A", 1, 2m));
        Assert.Equal((byte)'T', bytes[0]);
        Assert.Equal((byte)'C', bytes[1]);
        Assert.Equal(CacheValueCodec.FormatVersion, bytes[2]);
        Assert.Equal(MessagePackCacheSerializer.SerializerId, bytes[3]);
        Assert.Equal(0, bytes[4]);
        Assert.Equal(new OrderLine("A", 1, 2m), codec.Decode<OrderLine>("k", bytes));
    }

    [Fact]
    public void Encode_LargeCompressibleValue_IsCompressedAndRoundTrips()
    {
        var codec = new CacheValueCodec();
        var text = new string('z', 100_000);
        var bytes = codec.Encode("k", text);
        Assert.Equal(CacheValueCodec.FlagLz4, bytes[4]);
        Assert.True(bytes.Length < 2_000, $"compressed to {bytes.Length} bytes");
        Assert.Equal(text, codec.Decode<string>("k", bytes));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100_000)]
    public void Encode_WithExpiry_RecordsItAfterTheFlags_PlainAndCompressed(int length)
    {
        var codec = new CacheValueCodec();
        var text = new string('z', length);
        const long expiresAt = 1_790_000_000_123;
        var bytes = codec.Encode("k", text, expiresAt);

        Assert.Equal(CacheValueCodec.FlagExpiry, bytes[4] & CacheValueCodec.FlagExpiry);
        Assert.Equal(expiresAt, System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(5)));
        Assert.Equal(text, codec.Decode<string>("k", bytes, out var read));
        Assert.Equal(expiresAt, read);
        Assert.Equal(text, codec.Decode<string>("k", bytes));

        // Without an expiry the bytes are the version-1 layout they always were.
        Assert.Equal(0, codec.Encode("k", text)[4] & CacheValueCodec.FlagExpiry);
        Assert.Equal(text, codec.Decode<string>("k", codec.Encode("k", text), out var none));
        Assert.Equal(0, none);
    }

    [Fact]
    public void Encode_OverMaxValueBytes_ThrowsTooLarge_EvenWhenItWouldCompressUnderIt()
    {
        var codec = new CacheValueCodec(new CacheSerializationOptions { MaxValueBytes = 1000 });
        Assert.Equal(new string('z', 900), codec.Decode<string>("k", codec.Encode("k", new string('z', 900))));

        var ex = Assert.Throws<CacheValueTooLargeException>(() => codec.Encode("big", new string('z', 5000)));
        Assert.Equal("big", ex.Key);
        Assert.Contains("1000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ExpiryFlagWithTruncatedExpiry_ThrowsNamingTheKey()
    {
        byte[] bytes = [(byte)'T', (byte)'C', CacheValueCodec.FormatVersion, MessagePackCacheSerializer.SerializerId, CacheValueCodec.FlagExpiry, 1, 2, 3];
        var ex = Assert.Throws<CacheSerializationException>(() => new CacheValueCodec().Decode<string>("truncated", bytes));
        Assert.Equal("truncated", ex.Key);
        Assert.Contains("expiry", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ValueWrittenByJsonInstance_IsReadByMessagePackInstance()
    {
        var jsonWriter = new CacheValueCodec(new CacheSerializationOptions { Serializer = SystemTextJsonCacheSerializer.Default });
        var bytes = jsonWriter.Encode("k", new Customer { Id = 7, Name = "x" });
        Assert.Equal(SystemTextJsonCacheSerializer.SerializerId, bytes[3]);
        Assert.Equal(7, new CacheValueCodec().Decode<Customer>("k", bytes).Id);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o' })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 9, 1, 0, 0x91 })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 1, 77, 0, 0x91 })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 1, 1, 0x80, 0x91 })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 1, 1, 1, 0xff, 0xff, 0xff, 0x7f, 0 })]
    [InlineData(new byte[] { (byte)'T', (byte)'C', 1, 1, 0, 0xdc, 0xff, 0xff })]
    public void Decode_GarbageBytes_ThrowsSerializationExceptionNamingKey(byte[] garbage)
    {
        var ex = Assert.Throws<CacheSerializationException>(() => new CacheValueCodec().Decode<Customer>("user:1", garbage));
        Assert.Equal("user:1", ex.Key);
    }

    [Fact]
    public void Decode_TruncatedHeader_SaysTruncated()
    {
        var ex = Assert.Throws<CacheSerializationException>(() => new CacheValueCodec().Decode<string>("k", new byte[] { (byte)'T', (byte)'C', CacheValueCodec.FormatVersion }));
        Assert.Contains("truncated TaiCache header (3 of 5 bytes)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_BytesAfterThePayload_ThrowsRatherThanReadTheFirstValue()
    {
        var codec = new CacheValueCodec();
        var stored = codec.Encode("k", "a");
        var joined = stored.Concat("junk"u8.ToArray()).ToArray(); // another client appended to the value

        Assert.Equal("a", codec.Decode<string>("k", stored));
        var ex = Assert.Throws<CacheSerializationException>(() => codec.Decode<string>("k", joined));
        Assert.Contains("4 bytes follow the value", ex.InnerException?.Message ?? ex.Message, StringComparison.Ordinal);
        Assert.Throws<CacheSerializationException>(() => codec.Decode<object>("k", joined)); // the resolver's path too
    }

    [Fact]
    public void Decode_WrongType_ThrowsSerializationException()
    {
        var codec = new CacheValueCodec();
        var bytes = codec.Encode("k", "not a number");
        Assert.Throws<CacheSerializationException>(() => codec.Decode<int>("k", bytes));
    }

    [Fact]
    public void Decode_DeeplyNestedPayload_IsRefusedQuickly()
    {
        var payload = new byte[5 + 10_000];
        payload[0] = (byte)'T';
        payload[1] = (byte)'C';
        payload[2] = 1;
        payload[3] = 1;
        payload.AsSpan(5).Fill(0x91); // array of one element, nested 10,000 deep
        Assert.Throws<CacheSerializationException>(() => new CacheValueCodec().Decode<object>("k", payload));
    }

    [Fact]
    public void Encode_InternalRecordWithInternalElements_RoundTrips()
    {
        var codec = new CacheValueCodec();
        var value = new InternalBasket("b-1", [new InternalItem("x", 2)]);
        var back = codec.Decode<InternalBasket>("k", codec.Encode("k", value));
        Assert.Equal("b-1", back.Id);
        Assert.Equal(new InternalItem("x", 2), Assert.Single(back.Items));
    }

    [Fact]
    public void ExceptionMessage_DoesNotContainKeyByDefault()
    {
        var ex = Assert.Throws<CacheSerializationException>(() => new CacheValueCodec().Decode<int>("alice@example.com", new byte[] { 1 }));
        Assert.DoesNotContain("alice@example.com", ex.Message, StringComparison.Ordinal);
        Assert.Contains("key#", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_AfterAStreakOfIncompressibleValues_TriesLessOftenAndResumesOnASuccess()
    {
        var codec = new CacheValueCodec();
        var random = new Random(3);
        var noise = new byte[4096];
        for (var i = 0; i < 40; i++)
        {
            random.NextBytes(noise);
            var stored = codec.Encode("k", noise);
            Assert.Equal(0, stored[4]);
            Assert.Equal(noise, codec.Decode<byte[]>("k", stored));
        }

        // Compressible values now: within one probe interval an attempt succeeds, and from then on every one is compressed.
        var text = string.Concat(Enumerable.Repeat("compressible text ", 300));
        var flags = new List<byte>();
        for (var i = 0; i < 40; i++)
        {
            var stored = codec.Encode("k", text);
            flags.Add(stored[4]);
            Assert.Equal(text, codec.Decode<string>("k", stored));
        }

        var first = flags.IndexOf(CacheValueCodec.FlagLz4);
        Assert.InRange(first, 1, 16); // the first ones were stored plainly (not tried), all still readable
        Assert.All(flags.Skip(first), f => Assert.Equal(CacheValueCodec.FlagLz4, f));
    }
}

internal sealed record InternalItem(string Sku, int Quantity);

internal sealed record InternalBasket(string Id, List<InternalItem> Items);
