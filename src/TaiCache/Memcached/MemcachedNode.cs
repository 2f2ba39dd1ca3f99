using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TaiCache.Memcached.Protocol;

namespace TaiCache.Memcached;

/// <summary>
/// One memcached server: a bounded pool of connections and its health. A node is marked down when a connect fails,
/// or after <see cref="MemcachedCacheOptions.FailureThreshold"/> timeouts in a row. While down, operations never dial
/// it: one background probe per outage connects and sends a no-op (<c>mn</c>), first after
/// <see cref="MemcachedCacheOptions.DeadNodeRetryInterval"/>, then at doubling intervals up to
/// <see cref="MemcachedCacheOptions.MaxDeadNodeRetryInterval"/>; the first answer brings the node back, its connection
/// pooled. No caller pays for a probe, and a restarted server is seen within one probe interval.
/// Idle connections are polled at checkout (one closed by the server while idle is replaced before anything is sent),
/// and carry a generation that every connection failure moves on, so connections that were idle through a failure are
/// dropped rather than reused; the caller retries a pooled connection that failed before any response on a fresh one
/// (<see cref="ReconnectAsync"/>) and reports a failure of that fresh one (<see cref="ReportReplacementFailure"/>).
/// </summary>
internal sealed class MemcachedNode : IDisposable
{
    private readonly Stack<MemcachedConnection> _idle = new();
    private readonly SemaphoreSlim _slots;
    private readonly EndPoint _endPoint;
    private readonly MemcachedCacheOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopProbing = new();
    private volatile bool _down;
    private int _outage;
    private long _probes;
    private long _probeWaits;
    private TimeSpan _backoff;
    private int _consecutiveTimeouts;
    private int _open;
    private int _generation;
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

    /// <summary>Tells whether the node is marked down (until a background probe gets an answer).</summary>
    /// <returns><see langword="true"/> while operations should not dial it.</returns>
    public bool IsDown() => _down;

    /// <summary>Gets a value indicating whether the pool has other nodes, so this one being down is a partial outage.</summary>
    public bool OneOfSeveral { get; init; }

    /// <summary>Gets or sets every node of the cache, this one included (set once, after they are built).</summary>
    public IReadOnlyList<MemcachedNode> Siblings { get; set; } = [];

    /// <summary>
    /// Gets a value indicating whether a failure of this node is a partial outage: the cache has other nodes and at
    /// least one of them is not marked down (see <see cref="CacheConnectionException.IsPartialOutage"/> and
    /// <see cref="CacheTimeoutException.IsPartialOutage"/>).
    /// </summary>
    public bool PartialOutage
    {
        get
        {
            if (!OneOfSeveral)
            {
                return false;
            }

            foreach (var node in Siblings)
            {
                if (!ReferenceEquals(node, this) && !node.IsDown())
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Gets the number of background probes started so far (each one a connect and a no-op).</summary>
    public long ProbeCount => Interlocked.Read(ref _probes);

    /// <summary>Gets the number of back-off waits the probe has begun (each one is followed by a probe).</summary>
    public long ProbeWaitCount => Interlocked.Read(ref _probeWaits);

    /// <summary>
    /// Gets the connection generation: bumped whenever a connection of this node fails, so connections that were idle
    /// (or out on loan) before the failure are suspect and are dropped instead of reused.
    /// </summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>
    /// Gets a connection: an idle one that is still usable, or a new one while the pool has room. Idle connections from
    /// an older generation are dropped; one that polls readable (closed or reset by the server while idle, as after a
    /// restart) is dropped too and makes every other idle connection suspect.
    /// </summary>
    /// <param name="key">The key of the operation, for exceptions.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A connection the caller owns until <see cref="Return"/>.</returns>
    public async ValueTask<MemcachedConnection> RentAsync(string? key, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsDown())
        {
            throw MarkedDown(key);
        }

        if (!_slots.Wait(0, CancellationToken.None))
        {
            if (!await _slots.WaitAsync(_options.PoolTimeout, cancellationToken).ConfigureAwait(false))
            {
                throw new CacheTimeoutException($"No connection to the memcached node {Name} became free within {_options.PoolTimeout.TotalMilliseconds:0} ms (pool of {_options.MaxConnectionsPerNode}).", key)
                {
                    IsPartialOutage = PartialOutage,
                };
            }
        }

        if (IsDown())
        {
            // Marked down while this call waited for the pool (the failures of the calls it waited for): never dialled
            // by a caller.
            _slots.Release();
            throw MarkedDown(key);
        }

        var replacesStale = false;
        while (TryPopIdle(out var idle))
        {
            var generation = Volatile.Read(ref _generation);
            if (idle.Generation == generation && idle.IsUsableWhileIdle())
            {
                idle.FromPool = true;
                idle.ReplacesFailed = false;
                return idle;
            }

            if (idle.Generation == generation)
            {
                // Closed by the server while idle: the others were idle through the same event, so they are suspect too.
                Log.StaleConnectionDropped(_logger, Name);
                DrainIdle();
            }

            Close(idle);
            replacesStale = true;
        }

        var connection = await ConnectAsync(key, cancellationToken).ConfigureAwait(false);
        connection.ReplacesFailed = replacesStale;
        return connection;
    }

    private CacheConnectionException MarkedDown(string? key) =>
        new($"The memcached node {Name} is marked down after a failure; a background probe brings it back when it answers.", key, null)
        {
            IsPartialOutage = PartialOutage,
        };

    /// <summary>
    /// Replaces a pooled connection that failed before any response byte with a freshly opened one, keeping the pool
    /// slot; the failure has already made the other idle connections suspect (see <see cref="ReportConnectionFailure"/>).
    /// </summary>
    /// <param name="failed">The broken connection; closed here.</param>
    /// <param name="key">The key of the operation, for exceptions.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The fresh connection, owned by the caller until <see cref="Return"/>.</returns>
    /// <exception cref="CacheConnectionException">The node is marked down (not dialled), or the connect failed (the node is then marked down); the slot is released.</exception>
    public async ValueTask<MemcachedConnection> ReconnectAsync(MemcachedConnection failed, string? key, CancellationToken cancellationToken)
    {
        Close(failed);
        if (_disposed)
        {
            _slots.Release();
            throw new ObjectDisposedException(nameof(MemcachedNode));
        }

        if (IsDown())
        {
            _slots.Release(); // marked down by another call since this one failed: never dialled by a caller
            throw MarkedDown(key);
        }

        var connection = await ConnectAsync(key, cancellationToken).ConfigureAwait(false);
        connection.ReplacesFailed = true;
        return connection;
    }

    /// <summary>Gives a connection back: kept when healthy and of the current generation, closed otherwise.</summary>
    /// <param name="connection">The connection from <see cref="RentAsync"/>.</param>
    public void Return(MemcachedConnection connection)
    {
        if (connection.IsBroken || _disposed || connection.Generation != Volatile.Read(ref _generation))
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

    /// <summary>Records a broken connection (reset, closed, garbage): idle connections may be stale too, so they are closed and the generation moves on.</summary>
    /// <param name="reason">What happened.</param>
    public void ReportConnectionFailure(string reason)
    {
        Log.ConnectionDropped(_logger, Name, reason);
        DrainIdle();
    }

    /// <summary>
    /// Records that a fresh connection, opened because a pooled one was dead, failed as well: the server is not
    /// answering, so the node is marked down.
    /// </summary>
    /// <param name="reason">What happened on the fresh connection.</param>
    public void ReportReplacementFailure(string reason) => MarkDown("a fresh connection failed after a pooled one had: " + reason);

    /// <summary>Records a timeout; too many in a row mark the node down.</summary>
    public void ReportTimeout()
    {
        if (_down)
        {
            return; // a call in flight when the node went down: its timeout belongs to that outage, not to the next row
        }

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
        _stopProbing.Cancel();
        DrainIdle();
    }

    private void MarkDown(string reason)
    {
        int outage;
        lock (_gate)
        {
            if (_down || _disposed)
            {
                // Another call of the same outage (it was in flight, or dialling, when the node was marked down): the
                // probe already running stands.
                return;
            }

            _down = true;
            _backoff = _options.DeadNodeRetryInterval;
            outage = ++_outage;
        }

        DrainIdle();
        Log.NodeMarkedDown(_logger, Name, _options.DeadNodeRetryInterval.TotalMilliseconds, reason);
        _ = Task.Run(() => ProbeUntilUpAsync(outage));
    }

    /// <summary>Brings the node back; <paramref name="outage"/> is the outage a probe ended, or 0 for a caller's connect.</summary>
    private void MarkUp(int outage = 0)
    {
        bool wasDown;
        lock (_gate)
        {
            if (outage != 0 && outage != _outage)
            {
                return;
            }

            wasDown = _down;
            _down = false;
            _backoff = _options.DeadNodeRetryInterval;
            if (wasDown)
            {
                Volatile.Write(ref _consecutiveTimeouts, 0); // a new row of timeouts starts with the node back
            }
        }

        if (wasDown)
        {
            Log.NodeRecovered(_logger, Name);
        }
    }

    /// <summary>
    /// The background probe of one outage: waits the back-off, connects and sends a no-op, doubling the back-off after
    /// each failure, until the node answers (its connection joins the pool), the outage ends otherwise, or the node is
    /// disposed.
    /// </summary>
    private async Task ProbeUntilUpAsync(int outage)
    {
        var stop = _stopProbing.Token;
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                if (!_down || outage != _outage)
                {
                    return;
                }

                wait = _backoff;
            }

            try
            {
                var delay = Task.Delay(wait, _options.TimeProvider, stop);
                Interlocked.Increment(ref _probeWaits);
                await delay.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Interlocked.Increment(ref _probes);
            var connection = await TryProbeAsync(stop).ConfigureAwait(false);
            if (connection is null)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                lock (_gate)
                {
                    _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _options.MaxDeadNodeRetryInterval.Ticks));
                }

                continue;
            }

            Interlocked.Increment(ref _open);
            lock (_idle)
            {
                connection.Generation = Volatile.Read(ref _generation);
                _idle.Push(connection);
            }

            if (_disposed)
            {
                DrainIdle();
            }

            MarkUp(outage);
            return;
        }
    }

    /// <summary>Connects and asks for a no-op; returns the connection when the server answered, else <see langword="null"/>.</summary>
    private async Task<MemcachedConnection?> TryProbeAsync(CancellationToken stop)
    {
        MemcachedConnection? connection = null;
        try
        {
            connection = await MemcachedConnection.ConnectAsync(_endPoint, _options.ConnectTimeout, _options.TimeProvider, _options.MaxItemBytes, stop).ConfigureAwait(false);
            var token = connection.Begin(_options.OperationTimeout, stop, out var registration);
            try
            {
                MetaRequestWriter.WriteNoOp(connection.Request);
                await connection.SendAsync(token).ConfigureAwait(false);
                var response = await connection.ReadAsync(token).ConfigureAwait(false);
                if (response.Code != MetaResponseCode.NoOp)
                {
                    connection.MarkBroken();
                }
            }
            finally
            {
                connection.End(registration);
            }

            if (!connection.IsBroken)
            {
                connection.FromPool = false;
                return connection;
            }
        }
#pragma warning disable CA1031 // Any failure of a probe means "still down"; the next probe tries again.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.ConnectionDropped(_logger, Name, "probe failed: " + ex.Message);
        }

        connection?.Dispose();
        return null;
    }

    private async ValueTask<MemcachedConnection> ConnectAsync(string? key, CancellationToken cancellationToken)
    {
        try
        {
            var generation = Volatile.Read(ref _generation);
            var connection = await MemcachedConnection.ConnectAsync(_endPoint, _options.ConnectTimeout, _options.TimeProvider, _options.MaxItemBytes, cancellationToken).ConfigureAwait(false);
            connection.Generation = generation;
            connection.FromPool = false;
            Interlocked.Increment(ref _open);
            MarkUp();
            return connection;
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or IOException)
        {
            _slots.Release();
            MarkDown(ex.Message);
            throw new CacheConnectionException($"Could not connect to the memcached node {Name}: {ex.Message}", key, ex)
            {
                IsPartialOutage = PartialOutage,
            };
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    private bool TryPopIdle([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MemcachedConnection? connection)
    {
        lock (_idle)
        {
            return _idle.TryPop(out connection);
        }
    }

    /// <summary>Closes every idle connection and moves to a new generation, so connections out on loan now are not pooled again unless they prove themselves.</summary>
    private void DrainIdle()
    {
        MemcachedConnection[] drained;
        lock (_idle)
        {
            Interlocked.Increment(ref _generation);
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
