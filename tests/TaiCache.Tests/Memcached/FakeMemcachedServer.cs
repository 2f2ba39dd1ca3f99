using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// A loopback server that speaks just enough meta protocol (mg, ms, mn) to answer correctly, and can be scripted to
/// answer the next requests with arbitrary bytes (garbage, truncation) and close, or to hang.
/// </summary>
internal sealed class FakeMemcachedServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<TcpClient> _clients = [];
    private readonly Task _accept;
    private int _current;
    private int _maxConcurrent;

    public FakeMemcachedServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = AcceptLoopAsync();
    }

    public int Port { get; }

    /// <summary>Scripted answers: each takes the request's opaque number and gives bytes to send, and whether to close after.</summary>
    public ConcurrentQueue<(Func<int, byte[]> Answer, bool Close)> Script { get; } = new();

    /// <summary>Gets or sets a value indicating whether requests go unanswered.</summary>
    public volatile bool Hang;

    /// <summary>
    /// Gets or sets a value indicating whether a quiet delete (<c>md key q</c>) of a missing key goes unanswered, as the
    /// protocol's "noreply semantics" allow (memcached 1.6.18 still answers it <c>NF</c>).
    /// </summary>
    public volatile bool QuietDeleteHidesNotFound;

    public int MaxConcurrentConnections => Volatile.Read(ref _maxConcurrent);

    public int Accepted;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var c in _clients)
        {
            c.Dispose();
        }

        try
        {
            await _accept;
        }
        catch (Exception)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            _clients.Add(client);
            Interlocked.Increment(ref Accepted);
            var now = Interlocked.Increment(ref _current);
            int seen;
            while ((seen = Volatile.Read(ref _maxConcurrent)) < now && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen)
            {
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            var stream = client.GetStream();
            while (!_stop.IsCancellationRequested)
            {
                var line = await ReadLineAsync(stream);
                if (line is null)
                {
                    return;
                }

                var parts = line.Split(' ');
                var opaqueToken = parts.FirstOrDefault(p => p.StartsWith('O'));
                var opaque = opaqueToken is null ? -1 : int.Parse(opaqueToken[1..], CultureInfo.InvariantCulture);
                if (parts[0] == "ms")
                {
                    var size = int.Parse(parts[2], CultureInfo.InvariantCulture);
                    var data = new byte[size + 2];
                    await stream.ReadExactlyAsync(data, _stop.Token);
                }

                if (Hang)
                {
                    continue;
                }

                if (Script.TryDequeue(out var scripted))
                {
                    await stream.WriteAsync(scripted.Answer(opaque), _stop.Token);
                    if (scripted.Close)
                    {
                        return;
                    }

                    continue;
                }

                if (parts[0] == "mg" && parts.Contains("q"))
                {
                    continue; // quiet miss
                }

                if (parts[0] == "md" && parts.Contains("q") && QuietDeleteHidesNotFound)
                {
                    continue; // nothing is stored here, so every delete is a miss
                }

                var suffix = opaque >= 0 ? $" O{opaque}" : string.Empty;
                var answer = parts[0] switch
                {
                    "mg" => $"EN{suffix}\r\n",
                    "ms" => $"HD{suffix}\r\n",
                    "md" => $"NF{suffix}\r\n",
                    "mn" => "MN\r\n",
                    _ => "ERROR\r\n",
                };
                await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), _stop.Token);
            }
        }
        catch (Exception)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _current);
            client.Dispose();
        }
    }

    private async Task<string?> ReadLineAsync(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            var n = await stream.ReadAsync(one, _stop.Token);
            if (n == 0)
            {
                return null;
            }

            if (one[0] == '\n')
            {
                return Encoding.ASCII.GetString(bytes.ToArray()).TrimEnd('\r');
            }

            bytes.Add(one[0]);
        }
    }
}
