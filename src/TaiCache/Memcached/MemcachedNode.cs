using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TaiCache.Memcached.Protocol;

namespace TaiCache.Memcached;

/// <summary>
/// One memcached server: a bounded pool of connections and its health. A node is marked down when a connect fails,
/// or after <see cref="MemcachedCacheOptions.FailureThreshold"/> timeouts in a row; while down, it is not dialled
/// until its back-off passes (doubling from <see cref="MemcachedCacheOptions.DeadNodeRetryInterval"/> up to
/// <see cref="MemcachedCacheOptions.MaxDeadNodeRetryInterval"/>); then the next operation tries it again.
/// </summary>
internal sealed class MemcachedNode : IDisposable
{
    private readonly Stack<MemcachedConnection> _idle = new();
    private readonly SemaphoreSlim _slots;
    private readonly EndPoint _endPoint;
    private readonly MemcachedCacheOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private long _downUntilTicks;
    private volatile bool _down;
    private TimeSpan _backoff;
    private int _consecutiveTimeouts;
    private int _open;
    private bool _disposed;

    public MemcachedNode(MemcachedServer server, MemcachedCacheOptions options, ILogger logger)
    {
        Server = server;
        Name = server.ToString();
        _options = options;
        _logger = logger;
        _slots = new SemaphoreSlim(options.MaxConnectionsPerNode, options.MaxConnectionsPerNode);
        _endPoint = IPAddress.TryParse(server.Host, out var ip) ? new IPEndPoint(ip, server.Port) : new DnsEndPoint(server.Host, server.Port);
        _backoff = options.DeadNodeRetryInterval;
    }

    /// <summary>Gets the server.</summary>
    public MemcachedServer Server { get; }

    /// <summary>Gets the node's name, <c>host:port</c> (also its ketama name).</summary>
    public string Name { get; }

    /// <summary>Gets the number of open connections (idle and in use).</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Gets the number of idle pooled connections.</summary>
    public int IdleConnections
    {
        get
        {
            lock (_idle)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>Tells whether the node is marked down and its back-off has not passed yet.</summary>
    /// <returns><see langword="true"/> while operations should not dial it.</returns>
    public bool IsDown()
    {
        if (!_down)
        {
            return false;
        }

        lock (_gate)
        {
            return _down && _options.TimeProvider.GetUtcNow().UtcTicks < _downUntilTicks;
        }
    }

    /// <summary>Gets a connection: an idle one, or a new one while the pool has room.</summary>
    /// <param name="key">The key of the operation, for exceptions.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A connection the caller owns until <see cref="Return"/>.</returns>
    public async ValueTask<MemcachedConnection> RentAsync(string? key, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsDown())
        {
            throw new CacheConnectionException($"The memcached node {Name} is marked down after a failure; it is retried after its back-off.", key, null);
        }

        if (!_slots.Wait(0, CancellationToken.None))
        {
            if (!await _slots.WaitAsync(_options.PoolTimeout, cancellationToken).ConfigureAwait(false))
            {
                throw new CacheTimeoutException($"No connection to the memcached node {Name} became free within {_options.PoolTimeout.TotalMilliseconds:0} ms (pool of {_options.MaxConnectionsPerNode}).", key);
            }
        }

        lock (_idle)
        {
            if (_idle.TryPop(out var idle))
            {
                return idle;
            }
        }

        try
        {
            var connection = await MemcachedConnection.ConnectAsync(_endPoint, _options.ConnectTimeout, _options.TimeProvider, _options.MaxItemBytes, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _open);
            MarkUp();
            return connection;
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or IOException)
        {
            _slots.Release();
            MarkDown(ex.Message);
            throw new CacheConnectionException($"Could not connect to the memcached node {Name}: {ex.Message}", key, ex);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>Gives a connection back: kept when healthy, closed when broken.</summary>
    /// <param name="connection">The connection from <see cref="RentAsync"/>.</param>
    public void Return(MemcachedConnection connection)
    {
        if (connection.IsBroken || _disposed)
        {
            Close(connection);
        }
        else
        {
            lock (_idle)
            {
                _idle.Push(connection);
            }
        }

        _slots.Release();
    }

    /// <summary>Records a completed operation: the node answers.</summary>
    public void ReportSuccess()
    {
        if (Volatile.Read(ref _consecutiveTimeouts) != 0)
        {
            Volatile.Write(ref _consecutiveTimeouts, 0);
        }
    }

    /// <summary>Records a broken connection (reset, closed, garbage): idle connections may be stale too, so they are closed.</summary>
    /// <param name="reason">What happened.</param>
    public void ReportConnectionFailure(string reason)
    {
        Log.ConnectionDropped(_logger, Name, reason);
        DrainIdle();
    }

    /// <summary>Records a timeout; too many in a row mark the node down.</summary>
    public void ReportTimeout()
    {
        if (Interlocked.Increment(ref _consecutiveTimeouts) >= _options.FailureThreshold)
        {
            Volatile.Write(ref _consecutiveTimeouts, 0);
            MarkDown("operations timed out");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        DrainIdle();
    }

    private void MarkDown(string reason)
    {
        TimeSpan backoff;
        lock (_gate)
        {
            if (_down)
            {
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _options.MaxDeadNodeRetryInterval.Ticks));
            }

            _down = true;
            backoff = _backoff;
            _downUntilTicks = _options.TimeProvider.GetUtcNow().UtcTicks + backoff.Ticks;
        }

        DrainIdle();
        Log.NodeMarkedDown(_logger, Name, backoff.TotalMilliseconds, reason);
    }

    private void MarkUp()
    {
        bool wasDown;
        lock (_gate)
        {
            wasDown = _down;
            _down = false;
            _backoff = _options.DeadNodeRetryInterval;
        }

        if (wasDown)
        {
            Log.NodeRecovered(_logger, Name);
        }
    }

    private void DrainIdle()
    {
        MemcachedConnection[] drained;
        lock (_idle)
        {
            drained = [.. _idle];
            _idle.Clear();
        }

        foreach (var c in drained)
        {
            Close(c);
        }
    }

    private void Close(MemcachedConnection connection)
    {
        connection.Dispose();
        Interlocked.Decrement(ref _open);
    }
}
