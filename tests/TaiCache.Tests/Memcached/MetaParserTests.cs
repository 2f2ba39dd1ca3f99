using System.Buffers;
using System.Text;
using CsCheck;
using TaiCache.Memcached.Protocol;

namespace TaiCache.Tests.Memcached;

/// <summary>Property tests of the response parser: random, truncated and valid inputs.</summary>
public sealed class MetaParserTests
{
    private const int MaxValue = 1 << 20;

    private static readonly Gen<byte[]> ValidResponse =
        Gen.OneOf(
            Gen.Select(Gen.Byte.Array[0, 300], Gen.UInt, Gen.ULong, Gen.Int[0, int.MaxValue], (data, f, c, o) =>
                Encoding.ASCII.GetBytes($"VA {data.Length} f{f} c{c} O{o}\r\n").Concat(data).Concat("\r\n"u8.ToArray()).ToArray()),
            Gen.OneOf<string>("HD", "EN", "NF", "NS", "EX", "MN", "OK", "HD O7", "EN O12", "NF O0", "HD t-1 c5")
                .Select(s => Encoding.ASCII.GetBytes(s + "\r\n")),
            Gen.OneOf<string>("ERROR", "CLIENT_ERROR bad command line format", "SERVER_ERROR out of memory")
                .Select(s => Encoding.ASCII.GetBytes(s + "\r\n")));

    private static readonly Gen<byte[]> Noise =
        Gen.OneOf(
            Gen.Byte.Array[0, 64],
            Gen.OneOf<string>("VA ", "VA -1\r\n", "VA 99999999999\r\n", "HD", "\r\n", "\n", "VA 3\r\nabcXY", "EN O-1\r\n", "HD fzz\r\n", " ", "c1", "\0")
                .Select(s => Encoding.ASCII.GetBytes(s)),
            ValidResponse)
        .Array[0, 6]
        .Select(parts => parts.SelectMany(p => p).ToArray());

    [Fact]
    public void TryParse_RandomBytes_ParsesNeedsMoreOrThrowsProtocolException()
    {
        Noise.Sample(bytes =>
        {
            var buffer = new ReadOnlySequence<byte>(bytes);
            try
            {
                var guard = 0;
                while (MetaParser.TryParse(ref buffer, MaxValue, out var response))
                {
                    Assert.NotEqual(MetaResponseCode.None, response.Code);
                    Assert.True(++guard <= bytes.Length, "the parser must consume bytes on every success");
                }
            }
            catch (MemcachedProtocolException)
            {
            }
        }, iter: 3000);
    }

    [Fact]
    public void TryParse_EveryTruncationOfValidResponse_NeedsMoreData()
    {
        ValidResponse.Sample(bytes =>
        {
            for (var cut = 0; cut < bytes.Length; cut++)
            {
                var partial = new ReadOnlySequence<byte>(bytes, 0, cut);
                Assert.False(MetaParser.TryParse(ref partial, MaxValue, out _));
                Assert.Equal(cut, partial.Length);
            }

            var whole = new ReadOnlySequence<byte>(bytes);
            Assert.True(MetaParser.TryParse(ref whole, MaxValue, out _));
            Assert.Equal(0, whole.Length);
        }, iter: 300);
    }

    [Fact]
    public void TryParse_ValueResponse_ReturnsBytesAndFlags()
    {
        Gen.Select(Gen.Byte.Array[0, 2000], Gen.UInt, Gen.ULong, Gen.Int[0, 100_000]).Sample((data, flags, cas, opaque) =>
        {
            var bytes = Encoding.ASCII.GetBytes($"VA {data.Length} f{flags} c{cas} O{opaque}\r\n").Concat(data).Concat("\r\nMN\r\n"u8.ToArray()).ToArray();

            // Split the bytes in two segments at a random point to exercise multi-segment sequences.
            var split = data.Length / 2;
            var buffer = TwoSegments(bytes, split);
            Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var r));
            Assert.Equal(MetaResponseCode.Value, r.Code);
            Assert.Equal(data, r.Data);
            Assert.Equal(flags, r.ClientFlags);
            Assert.Equal(cas, r.Cas);
            Assert.Equal(opaque, r.Opaque);
            Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var mn));
            Assert.Equal(MetaResponseCode.NoOp, mn.Code);
        }, iter: 300);
    }

    [Theory]
    [InlineData("VA 5\r\nabcdefg\r\n")]
    [InlineData("XX\r\n")]
    [InlineData("HD\n")]
    [InlineData("VA 2000000000\r\n")]
    [InlineData("HD O-5\r\n")]
    [InlineData("HD c12x\r\n")]
    [InlineData("HD \u0001\r\n")]
    public void TryParse_Malformed_ThrowsProtocolException(string text)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text));
        Assert.Throws<MemcachedProtocolException>(() => MetaParser.TryParse(ref buffer, MaxValue, out _));
    }

    [Fact]
    public void TryParse_ValueOverTheLimit_ReturnsTheHeaderAndLeavesTheBytes()
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes($"VA {MaxValue + 1} f7 t30 O3\r\nxyz"));
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var r));
        Assert.Equal(MetaResponseCode.Value, r.Code);
        Assert.Equal(MaxValue + 1, r.OversizeBytes);
        Assert.Null(r.Data);
        Assert.Equal(7u, r.ClientFlags);
        Assert.Equal(3, r.Opaque);
        Assert.Equal("xyz", Encoding.ASCII.GetString(buffer.ToArray())); // the value bytes are the caller's to discard
    }

    [Fact]
    public void TryParse_EndlessLineWithoutNewline_ThrowsOnceOverLimit()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[MetaParser.MaxLineBytes + 1]);
        Assert.Throws<MemcachedProtocolException>(() => MetaParser.TryParse(ref buffer, MaxValue, out _));
    }

    [Fact]
    public void TryParse_StaleFlag_MarksTheResponseStale()
    {
        // memcached's answer for an item another client invalidated with md key I: X (stale) and W (win the refill).
        var buffer = new ReadOnlySequence<byte>("VA 2 f0 t30 X W\r\nab\r\nVA 2 f0 t30 W\r\nab\r\n"u8.ToArray());
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var stale));
        Assert.True(stale.IsStale);
        Assert.Equal(30, stale.RemainingTtl);
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var live));
        Assert.False(live.IsStale);
    }

    [Fact]
    public void TryParse_WinAndLostFlags_OnlyWinMarksTheRecacheToken()
    {
        // W: this read won the right to refill; Z: another client did. Only W is a token the reader holds.
        var buffer = new ReadOnlySequence<byte>("HD c7 t30 X W\r\nHD c7 t30 Z X\r\nVA 1 f0 Z\r\nx\r\n"u8.ToArray());
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var won));
        Assert.True(won.WonRecache);
        Assert.Equal(7UL, won.Cas);
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var lost));
        Assert.False(lost.WonRecache);
        Assert.True(lost.IsStale);
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var placeholder));
        Assert.False(placeholder.WonRecache);
        Assert.False(placeholder.IsStale);
    }

    [Fact]
    public void TryParse_ErrorLine_ReturnsErrorWithPrintableMessage()
    {
        var buffer = new ReadOnlySequence<byte>("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"u8.ToArray());
        Assert.True(MetaParser.TryParse(ref buffer, MaxValue, out var r));
        Assert.Equal(MetaResponseCode.ClientError, r.Code);
        Assert.True(r.IsError);
        Assert.Contains("non-numeric", r.ErrorMessage, StringComparison.Ordinal);
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split));
        var last = first.Append(bytes.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
