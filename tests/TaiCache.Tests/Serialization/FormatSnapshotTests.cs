using TaiCache.Serialization;
using TaiCache.Tests.Contract;

namespace TaiCache.Tests.Serialization;

/// <summary>
/// Pins the bytes of format version 1, so values stored by this release stay readable by later ones
/// (see docs/format.md). If one of these fails, the stored format changed: bump the version instead.
/// </summary>
public sealed class FormatSnapshotTests
{
    // MessagePack, contractless: a map keyed by property names.
    private const string OrderLineV1 = "5443010100" + "83a3536b75a3412d31a85175616e7469747902a55072696365a4322e3530";

    // System.Text.Json, web defaults.
    private const string OrderLineJsonV1 = "5443010200" + "7b22736b75223a22412d31222c227175616e74697479223a322c227072696365223a322e35307d";

    [Fact]
    public void Encode_MessagePackRecord_MatchesSnapshot()
    {
        var bytes = new CacheValueCodec().Encode("k", new OrderLine("A-1", 2, 2.50m));
        Assert.Equal(OrderLineV1, Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void Decode_MessagePackSnapshot_ReadsBack()
    {
        var value = new CacheValueCodec().Decode<OrderLine>("k", Convert.FromHexString(OrderLineV1));
        Assert.Equal(new OrderLine("A-1", 2, 2.50m), value);
    }

    [Fact]
    public void Encode_JsonRecord_MatchesSnapshot()
    {
        var codec = new CacheValueCodec(new CacheSerializationOptions { Serializer = SystemTextJsonCacheSerializer.Default });
        Assert.Equal(OrderLineJsonV1, Convert.ToHexStringLower(codec.Encode("k", new OrderLine("A-1", 2, 2.50m))));
    }

    [Fact]
    public void Decode_CompressedSnapshot_ReadsBack()
    {
        var text = new string('a', 4096);
        var bytes = new CacheValueCodec().Encode("k", text);
        Assert.Equal("5443010101", Convert.ToHexStringLower(bytes.AsSpan(0, 5)));
        Assert.Equal(text, new CacheValueCodec().Decode<string>("k", bytes));
    }
}
