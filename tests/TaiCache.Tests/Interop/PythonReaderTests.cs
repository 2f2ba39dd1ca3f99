using System.Diagnostics;
using System.Text.Json;
using TaiCache.Redis;
using TaiCache.Tests.Contract;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Interop;

/// <summary>
/// Another language reads what TaiCache stores: a Python client (its own RESP over a socket, the Debian msgpack and
/// lz4 modules) fetches values from Redis and decodes them as docs/format.md says, header, expiry and LZ4 included.
/// </summary>
public sealed class PythonReaderTests : IClassFixture<RedisServerFixture>
{
    // Speaks just enough RESP for GET, then follows docs/format.md: magic, version, serializer id, flags, the optional
    // 8-byte expiry, the optional 4-byte uncompressed length and LZ4 block, then MessagePack. Prints one JSON per key.
    private const string Reader = """
        import json, socket, struct, sys
        import lz4.block, msgpack

        def get(sock, key):
            k = key.encode()
            sock.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k))
            f = sock.makefile("rb")
            head = f.readline()
            if head.startswith(b"$-1"):
                return None
            n = int(head[1:-2])
            data = f.read(n)
            f.read(2)
            return data

        def decode(raw):
            assert raw[0:2] == b"TC", raw[0:2]
            version, serializer, flags = raw[2], raw[3], raw[4]
            pos, expires = 5, None
            if flags & 2:
                (expires,) = struct.unpack_from("<q", raw, pos)
                pos += 8
            payload = raw[pos:]
            if flags & 1:
                (length,) = struct.unpack_from("<i", raw, pos)
                payload = lz4.block.decompress(raw[pos + 4:], uncompressed_size=length)
            value = msgpack.unpackb(payload, raw=False)
            return {"version": version, "serializer": serializer, "compressed": bool(flags & 1), "expires": expires, "value": value}

        host, port = sys.argv[1], int(sys.argv[2])
        with socket.create_connection((host, port)) as sock:
            for key in sys.argv[3:]:
                print(json.dumps(decode(get(sock, key))))
        """;

    private readonly RedisServerFixture _redis;

    public PythonReaderTests(RedisServerFixture redis) => _redis = redis;

    [Fact]
    public async Task PythonClient_ReadsObjectsTextAndCompressedValues_AsTheFormatDocumentSays()
    {
        var prefix = $"{nameof(PythonReaderTests)}:{Guid.NewGuid():N}:";
        await using var cache = await RedisCache.ConnectAsync(_redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await cache.SetAsync("order", new OrderLine("SKU-9", 2, 1.5m), TimeSpan.FromMinutes(10));
        await cache.SetAsync("plain", "héllo");
        var big = string.Concat(Enumerable.Repeat("compressible text ", 400));
        await cache.SetAsync("big", big);

        var lines = await RunPythonAsync(prefix + "order", prefix + "plain", prefix + "big");

        Assert.Equal(3, lines.Count);
        var order = lines[0].RootElement;
        Assert.Equal(1, order.GetProperty("version").GetInt32());
        Assert.Equal(1, order.GetProperty("serializer").GetInt32());
        Assert.InRange(order.GetProperty("expires").GetInt64(), before + 590_000, before + 610_000);
        var fields = order.GetProperty("value");
        Assert.Equal("SKU-9", fields.GetProperty("Sku").GetString());
        Assert.Equal(2, fields.GetProperty("Quantity").GetInt32());
        Assert.Equal("1.5", fields.GetProperty("Price").GetString());

        var plain = lines[1].RootElement;
        Assert.Equal(JsonValueKind.Null, plain.GetProperty("expires").ValueKind);
        Assert.Equal("héllo", plain.GetProperty("value").GetString());

        var compressed = lines[2].RootElement;
        Assert.True(compressed.GetProperty("compressed").GetBoolean());
        Assert.Equal(big, compressed.GetProperty("value").GetString());
    }

    private async Task<List<JsonDocument>> RunPythonAsync(params string[] keys)
    {
        var endpoint = _redis.ConnectionString.Split(',')[0];
        var colon = endpoint.LastIndexOf(':');
        var script = Path.Combine(Path.GetTempPath(), $"taicache-reader-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(script, Reader);
        try
        {
            var start = new ProcessStartInfo(FindPython()) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in (string[])[script, endpoint[..colon], endpoint[(colon + 1)..], .. keys])
            {
                start.ArgumentList.Add(argument);
            }

            using var python = Process.Start(start)!;
            var output = python.StandardOutput.ReadToEndAsync();
            var error = python.StandardError.ReadToEndAsync();
            await python.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(python.ExitCode == 0, $"the Python reader failed: {await error}");
            return [.. (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line))];
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>The first Python with the msgpack and lz4 modules: Debian's (python3-msgpack, python3-lz4), then the one on PATH. Missing is a failure.</summary>
    private static string FindPython()
    {
        foreach (var candidate in (string[])["/usr/bin/python3", "python3"])
        {
            try
            {
                using var probe = Process.Start(new ProcessStartInfo(candidate, ["-c", "import msgpack, lz4.block"]) { RedirectStandardError = true });
                if (probe is not null && probe.WaitForExit(30_000) && probe.ExitCode == 0)
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed under that name.
            }
        }

        throw new InvalidOperationException("No Python 3 with the msgpack and lz4 modules for the interop test: apt-get install -y python3-msgpack python3-lz4. Tests never skip silently.");
    }
}
