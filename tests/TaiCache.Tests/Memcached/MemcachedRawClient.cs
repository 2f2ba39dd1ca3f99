using System.Net.Sockets;
using System.Text;

namespace TaiCache.Tests.Memcached;

/// <summary>A minimal classic-text-protocol client over a raw socket, written apart from TaiCache's client, to check interop.</summary>
internal sealed class MemcachedRawClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    public MemcachedRawClient(string host, int port)
    {
        _tcp = new TcpClient();
        _tcp.Connect(host, port);
        _tcp.ReceiveTimeout = 5000;
        _stream = _tcp.GetStream();
    }

    /// <summary>Runs <c>get key</c>: returns the flags and bytes, or null on a miss.</summary>
    public (uint Flags, byte[] Data)? Get(string key)
    {
        Send($"get {key}\r\n");
        var line = ReadLine();
        if (line == "END")
        {
            return null;
        }

        var parts = line.Split(' ');
        Assert.Equal("VALUE", parts[0]);
        Assert.Equal(key, parts[1]);
        var flags = uint.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        var size = int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture);
        var data = ReadExactly(size + 2);
        Assert.Equal("END", ReadLine());
        return (flags, data[..size]);
    }

    /// <summary>Runs <c>set key flags exptime bytes</c>.</summary>
    public void Set(string key, uint flags, byte[] data, int exptime = 0)
    {
        Send($"set {key} {flags} {exptime} {data.Length}\r\n");
        _stream.Write(data);
        Send("\r\n");
        Assert.Equal("STORED", ReadLine());
    }

    /// <summary>Runs <c>stats</c> and returns the values by name.</summary>
    public Dictionary<string, string> Stats()
    {
        Send("stats\r\n");
        var result = new Dictionary<string, string>();
        while (true)
        {
            var line = ReadLine();
            if (line == "END")
            {
                return result;
            }

            var parts = line.Split(' ', 3);
            result[parts[1]] = parts[2];
        }
    }

    /// <summary>Runs a meta command and returns the first response line.</summary>
    public string Meta(string command)
    {
        Send(command + "\r\n");
        return ReadLine();
    }

    public void Dispose()
    {
        _stream.Dispose();
        _tcp.Dispose();
    }

    private void Send(string text) => _stream.Write(Encoding.UTF8.GetBytes(text));

    private string ReadLine()
    {
        var bytes = new List<byte>();
        while (true)
        {
            var b = _stream.ReadByte();
            if (b < 0)
            {
                throw new IOException("closed");
            }

            if (b == '\n')
            {
                break;
            }

            bytes.Add((byte)b);
        }

        return Encoding.UTF8.GetString(bytes.ToArray()).TrimEnd('\r');
    }

    private byte[] ReadExactly(int count)
    {
        var buffer = new byte[count];
        _stream.ReadExactly(buffer);
        return buffer;
    }
}
