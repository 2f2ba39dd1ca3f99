using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace TaiCache.Tests.Fixtures;

/// <summary>
/// A loopback TCP proxy for fault tests: forwards every connection made to <see cref="Port"/> to a server on
/// <c>127.0.0.1:targetPort</c>, and on command adds latency to every chunk (both directions), swallows traffic
/// (<see cref="Drop"/>: connections stay open but nothing is forwarded), cuts every open connection, or refuses new ones.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, (TcpClient Client, TcpClient Upstream)> _pairs = new();
    private readonly Task _acceptLoop;
    private int _nextId;
    private long _latencyTicks;
    private volatile bool _drop;
    private volatile bool _dropResponses;
    private long _droppedBytes;
    private volatile bool _refuse;

    /// <summary>Starts a proxy on a free loopback port in front of <c>127.0.0.1:targetPort</c>.</summary>
    /// <param name="targetPort">The server's port.</param>
    /// <param name="clientReceiveBufferBytes">
    /// A fixed, small kernel receive buffer for the client-facing sockets, so that with <see cref="Latency"/> a client's
    /// large send is held back (and seen to progress) instead of vanishing into loopback's megabytes of buffer at once.
    /// </param>
    public TcpFaultProxy(int targetPort, int? clientReceiveBufferBytes = null)
    {
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        if (clientReceiveBufferBytes is { } bytes)
        {
            _listener.Server.ReceiveBufferSize = bytes; // inherited by the accepted sockets
        }

        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Gets the port clients connect to.</summary>
    public int Port { get; }

    /// <summary>Gets or sets the delay added before each forwarded chunk (both directions).</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set => Interlocked.Exchange(ref _latencyTicks, value.Ticks);
    }

    /// <summary>Gets or sets a value indicating whether traffic is silently swallowed (a black hole).</summary>
    public bool Drop { get => _drop; set => _drop = value; }

    /// <summary>Gets or sets a value indicating whether only the server's answers are swallowed: requests still reach it.</summary>
    public bool DropResponses { get => _dropResponses; set => _dropResponses = value; }

    /// <summary>Gets or sets a value indicating whether new connections are closed as soon as they are accepted.</summary>
    public bool RefuseNew { get => _refuse; set => _refuse = value; }

    /// <summary>Gets the number of connections currently forwarded.</summary>
    public int OpenConnections => _pairs.Count;

    /// <summary>Gets the number of bytes swallowed while <see cref="Drop"/> was on.</summary>
    public long DroppedBytes => Interlocked.Read(ref _droppedBytes);

    /// <summary>Gets the number of connections accepted since start.</summary>
    public int AcceptedConnections => Volatile.Read(ref _nextId);

    /// <summary>Closes every open connection (both sides, with a reset).</summary>
    public void CutAll()
    {
        foreach (var id in _pairs.Keys)
        {
            Close(id);
        }
    }

    /// <summary>Clears every fault: no latency, no drop, new connections accepted.</summary>
    public void Heal()
    {
        Latency = TimeSpan.Zero;
        Drop = false;
        DropResponses = false;
        RefuseNew = false;
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

            var id = Interlocked.Increment(ref _nextId);
            if (_refuse)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            _ = Task.Run(() => ServeAsync(id, client));
        }
    }

    private async Task ServeAsync(int id, TcpClient client)
    {
        var upstream = new TcpClient { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
        }
        catch (Exception)
        {
            client.Dispose();
            upstream.Dispose();
            return;
        }

        _pairs[id] = (client, upstream);
        var a = PumpAsync(client.GetStream(), upstream.GetStream(), toClient: false);
        var b = PumpAsync(upstream.GetStream(), client.GetStream(), toClient: true);
        await Task.WhenAny(a, b);
        Close(id);
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool toClient)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                var latency = Latency;
                if (latency > TimeSpan.Zero)
                {
                    await Task.Delay(latency, _stop.Token);
                }

                if (_drop || (toClient && _dropResponses))
                {
                    Interlocked.Add(ref _droppedBytes, n);
                    continue;
                }

                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception)
        {
            // a cut connection or the proxy stopping ends the pump
        }
    }

    private void Close(int id)
    {
        if (!_pairs.TryRemove(id, out var pair))
        {
            return;
        }

        foreach (var c in new[] { pair.Client, pair.Upstream })
        {
            try
            {
                c.Client.LingerState = new LingerOption(true, 0);
                c.Dispose();
            }
            catch (Exception)
            {
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
        }

        _stop.Dispose();
    }
}
