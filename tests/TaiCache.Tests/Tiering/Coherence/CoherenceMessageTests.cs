using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>The wire format of coherence messages.</summary>
public sealed class CoherenceMessageTests
{
    [Fact]
    public void Invalidate_RoundTrips()
    {
        var bytes = CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "node-1", 0xDEADBEEFCAFEUL, 123, ["a", "héllo:✓", new string('k', 300)]);
        Assert.True(CoherenceMessage.TryDecode(bytes, out var m, out var error), error);
        Assert.Equal(CoherenceMessageKind.Invalidate, m.Kind);
        Assert.Equal("node-1", m.Origin);
        Assert.Equal(0xDEADBEEFCAFEUL, m.Incarnation);
        Assert.Equal(123, m.Sequence);
        Assert.Equal(["a", "héllo:✓", new string('k', 300)], m.Keys);
    }

    [Fact]
    public void Heartbeat_IsCompact()
    {
        var bytes = CoherenceMessage.Encode(CoherenceMessageKind.Heartbeat, "node-1", 1, 5, probe: 77);
        Assert.Equal(5 + 6 + 16 + 8, bytes.Length);
        Assert.Equal((byte)'T', bytes[0]);
        Assert.Equal((byte)'c', bytes[1]);
        Assert.Equal(1, bytes[2]);
        Assert.Equal(3, bytes[3]);
        Assert.True(CoherenceMessage.TryDecode(bytes, out var m, out _));
        Assert.Equal(5, m.Sequence);
        Assert.Equal(77, m.Probe);
        Assert.Empty(m.Keys);
    }

    [Fact]
    public void TryDecode_EveryTruncation_IsRefused()
    {
        var bytes = CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "node-1", 9, 2, ["key-one", "key-two"]);
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(CoherenceMessage.TryDecode(bytes.AsSpan(0, length), out _, out var error));
            Assert.NotNull(error);
        }
    }

    [Fact]
    public void TryDecode_GarbageAndHugeCounts_AreRefused()
    {
        Assert.False(CoherenceMessage.TryDecode("hello"u8, out _, out _));
        var bytes = CoherenceMessage.Encode(CoherenceMessageKind.Invalidate, "n", 1, 1, []);
        var huge = bytes[..^1].Concat(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }).ToArray(); // count = 2^32-1
        Assert.False(CoherenceMessage.TryDecode(huge, out _, out var error));
        Assert.Contains("count", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Invalid_ThrowNamingTheOption()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CacheCoherenceOptions { Namespace = "" }.Validate());
        Assert.Contains("Namespace", ex.Message, StringComparison.Ordinal);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => new CacheCoherenceOptions { HeartbeatInterval = TimeSpan.Zero }.Validate());
        Assert.Contains("HeartbeatInterval", ex2.Message, StringComparison.Ordinal);
        var ex3 = Assert.Throws<ArgumentException>(() => new CacheCoherenceOptions { InstanceId = new string('x', 201) }.Validate());
        Assert.Contains("InstanceId", ex3.Message, StringComparison.Ordinal);
    }
}
