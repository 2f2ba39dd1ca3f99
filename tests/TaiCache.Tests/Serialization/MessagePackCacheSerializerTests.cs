using System.Buffers;
using MessagePack;
using MessagePack.Resolvers;
using TaiCache.Serialization;
using TaiCache.Tests.Contract;

namespace TaiCache.Tests.Serialization;

/// <summary>The default options read through the resolver's formatter directly; any other options through MessagePack's own entry point. Both must behave alike.</summary>
public sealed class MessagePackCacheSerializerTests
{
    public static TheoryData<string> Serializers => ["default", "default, old spec", "standard resolver"];

    [Fact]
    public void Constructor_MessagePackLevelCompression_IsRefused_NamingTheEnvelopesOwn()
    {
        var error = Assert.Throws<ArgumentException>(() => new MessagePackCacheSerializer(ContractlessStandardResolver.Options.WithCompression(MessagePackCompression.Lz4BlockArray)));
        Assert.Contains("CompressionThresholdBytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Serializers))]
    public void Deserialize_ReadsWhatItWrote_WithEveryKindOfOptions(string kind)
    {
        var serializer = Create(kind);
        var value = new OrderLine("A", 3, 4.5m);
        Assert.Equal(value, serializer.Deserialize<OrderLine>(Write(serializer, value)));
        Assert.Equal([1, 2, 3], serializer.Deserialize<int[]>(Write(serializer, new[] { 1, 2, 3 })));
        Assert.Null(serializer.Deserialize<OrderLine?>(Write<OrderLine?>(serializer, null)));
    }

    [Theory]
    [MemberData(nameof(Serializers))]
    public void Deserialize_WrongType_ThrowsMessagePacksExceptionNamingTheType(string kind)
    {
        var serializer = Create(kind);
        var bytes = Write(serializer, "not an order line");
        var error = Assert.Throws<MessagePackSerializationException>(() => serializer.Deserialize<OrderLine>(bytes));
        Assert.Contains(typeof(OrderLine).FullName!, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Serializers))]
    public void Serialize_WritesTheSameBytesAsMessagePack(string kind)
    {
        var serializer = Create(kind);
        // A SKU of 40 characters: the old spec writes it without the str8 header the current one uses.
        var value = new OrderLine(new string('B', 40), 7, 1.25m);
        Assert.Equal(MessagePackSerializer.Serialize(value, serializer.Options), Write(serializer, value));
    }

    [Fact]
    public void Deserialize_DefaultOptions_KeepTheDepthLimit()
    {
        var nested = new byte[10_000];
        nested.AsSpan().Fill(0x91); // an array of one element, nested 10,000 deep
        Assert.Throws<MessagePackSerializationException>(() => MessagePackCacheSerializer.Default.Deserialize<object>(nested));
    }

    [Fact]
    public void Deserialize_DefaultOptions_ReadInternalTypes()
    {
        var serializer = MessagePackCacheSerializer.Default;
        var value = new InternalBasket("b-2", [new InternalItem("y", 5)]);
        var back = serializer.Deserialize<InternalBasket>(Write(serializer, value));
        Assert.Equal(new InternalItem("y", 5), Assert.Single(back.Items));
    }

    private static MessagePackCacheSerializer Create(string kind) => kind switch
    {
        "default" => MessagePackCacheSerializer.Default,
        "default, old spec" => new MessagePackCacheSerializer(MessagePackCacheSerializer.Default.Options.WithOldSpec(true)),
        _ => new MessagePackCacheSerializer(MessagePackSerializerOptions.Standard.WithResolver(ContractlessStandardResolver.Instance)),
    };

    private static byte[] Write<T>(MessagePackCacheSerializer serializer, T value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        serializer.Serialize(buffer, value);
        return buffer.WrittenSpan.ToArray();
    }
}
