using System.IO.Compression;
using System.Text;
using TaiCache.HitRatio;

namespace TaiCache.Tests.HitRatio;

/// <summary>The HitRatio tool's trace reader: other layouts of the ARC format are read alike, bad traces are refused by line.</summary>
public sealed class AccessTraceTests : IDisposable
{
    private const string Reference = "10 2 0 0\n5 1 0 1\n10 1 0 2\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("taicache-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("spaces", "10 2 0 0\n5 1 0 1\n10 1 0 2\n")]
    [InlineData("crlf", "10 2 0 0\r\n5 1 0 1\r\n10 1 0 2\r\n")]
    [InlineData("tabs", "10\t2\t0\t0\n5\t1\t0\t1\n10\t1\t0\t2\n")]
    [InlineData("extra whitespace", "  10   2  0 0  \n\t5 1\n10 1 0 2")]
    [InlineData("blank and comment lines", "# block trace\n\n10 2 0 0\n\n   \n# middle\n5 1 0 1\n10 1 0 2\n\n")]
    public void Load_OtherLayoutsOfTheSameTrace_GiveTheSameAccesses(string layout, string text)
    {
        var expected = AccessTrace.Load(Write("reference.lis", Reference));

        var trace = AccessTrace.Load(Write(layout.Replace(' ', '-') + ".lis", text));

        Assert.Equal(new long[] { 10, 11, 5 }, expected.Keys);
        Assert.Equal(new[] { 0, 1, 2, 0 }, expected.Ids);
        Assert.Equal(expected.Keys, trace.Keys);
        Assert.Equal(expected.Ids, trace.Ids);
    }

    [Fact]
    public void Load_GzipFile_IsDecompressed()
    {
        var path = Path.Combine(_dir, "trace.lis.gz");
        using (var gzip = new GZipStream(File.Create(path), CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.ASCII.GetBytes(Reference));
        }

        var trace = AccessTrace.Load(path);

        Assert.Equal(new[] { 0, 1, 2, 0 }, trace.Ids);
    }

    [Theory]
    [InlineData("1 1 0 0\n2 x 0 0\n", "line 2")]
    [InlineData("1 1 0 0\n7\n", "line 2")]
    [InlineData("1 1 0 0\n10 -5 0 0\n", "line 2")]
    [InlineData("1 0 0 0\n", "line 1")]
    [InlineData("9223372036854775800 100 0 0\n", "line 1")]
    [InlineData("1 1 0 0\n0 1001 0 0\n", "more than 1,000 accesses")]
    [InlineData("", "no accesses")]
    [InlineData("# only a comment\n\n", "no accesses")]
    public void Load_MalformedTrace_IsRefusedWithFileAndLine(string text, string expected)
    {
        var path = Write("bad.lis", text);

        var error = Assert.Throws<InvalidDataException>(() => AccessTrace.Load(path, maxAccesses: 1_000));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("bad.lis", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ZstdBytesUnderAnotherName_IsRefusedWithAHint()
    {
        var path = Path.Combine(_dir, "trace.bin");
        File.WriteAllBytes(path, [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00]);

        var error = Assert.Throws<InvalidDataException>(() => AccessTrace.Load(path));

        Assert.Contains("zstd", error.Message, StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
