using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace TaiCache.Memcached.Protocol;

/// <summary>
/// One TCP connection to one memcached server, used by one operation at a time (the pool hands it out exclusively).
/// Responses are read through a <see cref="PipeReader"/> and parsed by <see cref="MetaParser"/>. Any doubt about the
/// stream's position (timeout, cancellation, protocol error, error line, I/O failure) marks it broken, and the pool
/// closes it instead of reusing it, so a bad response can never leak into the next call.
/// </summary>
/// <remarks>
/// The operation timeout is a stall timeout: it fires when the operation has gone its whole window without progress,
/// that is without a chunk of the request taken by the socket or a byte of the response received (the time spent
/// writing the request into the buffer, before the send starts, does not count). Every such step restarts the window, so a large batch that keeps moving is never cut, while a server that stops answering is
/// detected one window after its last byte.
/// </remarks>
internal sealed class MemcachedConnection : IDisposable
{
    private const int ShrinkAbove = 256 * 1024;

    // Requests larger than this are sent in pieces of this size, so that progress is seen (and the timeout restarted)
    // while a large batch drains into the socket.
    private const int SendChunkBytes = 256 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly CancellationTokenSource _timeout = new();
    private readonly TimeProvider _timeProvider;
    private readonly ITimer _timer;
    private readonly Lock _timerGate = new();
    private readonly int _maxValueBytes;
    private TimeSpan _window = Timeout.InfiniteTimeSpan;
    private long _lastProgress;
    private ArrayBufferWriter<byte> _request = new(512);

    // Values sent from their own arrays instead of being copied into _request: each goes out at its offset in it.
    private readonly List<(int At, ReadOnlyMemory<byte> Data)> _values = [];
    private long _valueBytes;
    private int _disposed;
    private int _opaque;
    private bool _sendStarted;
    private bool _responseStarted;

    private MemcachedConnection(Socket socket, TimeProvider timeProvider, int maxValueBytes)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true));
        _timeProvider = timeProvider;
        _timer = timeProvider.CreateTimer(static s => ((MemcachedConnection)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _maxValueBytes = maxValueBytes;
    }

    /// <summary>Gets the buffer the next request is written into.</summary>
    public ArrayBufferWriter<byte> Request => _request;

    /// <summary>Gets the bytes of the request so far: those written into <see cref="Request"/> and the values appended with <see cref="AppendValue"/>.</summary>
    public long RequestBytes => _request.WrittenCount + _valueBytes;

    /// <summary>
    /// Appends a value to the request without copying it: it is sent from <paramref name="data"/> itself, after the
    /// bytes written into <see cref="Request"/> so far and before any written later. The memory must stay unchanged
    /// until the operation ends.
    /// </summary>
    /// <param name="data">The value bytes.</param>
    public void AppendValue(ReadOnlyMemory<byte> data)
    {
        _values.Add((_request.WrittenCount, data));
        _valueBytes += data.Length;
    }

    /// <summary>Gets a value indicating whether the connection must not be reused.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>Gets or sets a value indicating whether the current operation took this connection from the pool (it had served before and then sat idle).</summary>
    public bool FromPool { get; set; }

    /// <summary>Gets or sets a value indicating whether this connection was opened to replace a pooled one found dead; if it fails too, the node is marked down.</summary>
    public bool ReplacesFailed { get; set; }

    /// <summary>Gets or sets the node's connection generation this connection was last known good in; the pool drops older ones.</summary>
    public int Generation { get; set; }

    /// <summary>Gets a value indicating whether the current operation has started sending its request (some bytes may have reached the server).</summary>
    public bool SendStarted => _sendStarted;

    /// <summary>Gets a value indicating whether the current operation has received any response byte.</summary>
    public bool ResponseStarted => _responseStarted;

    /// <summary>Opens a connection within <paramref name="connectTimeout"/>.</summary>
    /// <param name="endPoint">The server.</param>
    /// <param name="connectTimeout">How long the connect may take.</param>
    /// <param name="timeProvider">The clock for timeouts.</param>
    /// <param name="maxValueBytes">The largest value a response may carry.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The open connection.</returns>
    public static async ValueTask<MemcachedConnection> ConnectAsync(EndPoint endPoint, TimeSpan connectTimeout, TimeProvider timeProvider, int maxValueBytes, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(connectTimeout, timeProvider);
        using var link = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
        try
        {
            await socket.ConnectAsync(endPoint, link.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting took longer than {connectTimeout.TotalMilliseconds:0} ms.");
        }
        catch (OperationCanceledException ex)
        {
            socket.Dispose();
            throw new OperationCanceledException(ex.Message, ex, cancellationToken); // the caller's token, not the link's
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new MemcachedConnection(socket, timeProvider, maxValueBytes);
    }

    /// <summary>Returns the next opaque number for a single request; the response must echo it, so a stale or stray response is caught.</summary>
    /// <returns>A non-negative number, different from the previous one.</returns>
    public int NextOpaque()
    {
        _opaque = _opaque == int.MaxValue ? 0 : _opaque + 1;
        return _opaque;
    }

    /// <summary>Starts an operation: arms the stall timeout, linked to the caller's token.</summary>
    /// <param name="timeout">The longest the operation may go without progress (a request chunk sent or response bytes received).</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <param name="registration">The link to the caller's token; pass it to <see cref="End"/>.</param>
    /// <returns>The token the operation's I/O uses.</returns>
    public CancellationToken Begin(TimeSpan timeout, CancellationToken cancellationToken, out CancellationTokenRegistration registration)
    {
        _sendStarted = false;
        _responseStarted = false;
        lock (_timerGate)
        {
            _window = timeout;
            Volatile.Write(ref _lastProgress, _timeProvider.GetTimestamp());
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }

        registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((MemcachedConnection)s!).CancelIo(), this)
            : default;
        return _timeout.Token;
    }

    /// <summary>Ends an operation: disarms the timeout; a connection whose timeout fired is broken.</summary>
    /// <param name="registration">The registration from <see cref="Begin"/>.</param>
    public void End(CancellationTokenRegistration registration)
    {
        registration.Dispose();

        // Disarm, then look: a timeout that fired first leaves the source cancelled, and the connection broken.
        lock (_timerGate)
        {
            _window = Timeout.InfiniteTimeSpan;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        if (_timeout.IsCancellationRequested)
        {
            IsBroken = true;
        }

        if (!IsBroken && _reader.TryRead(out var pending))
        {
            // memcached never speaks unasked: bytes past the last response mean the stream is out of step.
            if (!pending.Buffer.IsEmpty || pending.IsCompleted)
            {
                IsBroken = true;
            }

            _reader.AdvanceTo(pending.Buffer.Start);
        }

        _values.Clear();
        _valueBytes = 0;
        if (_request.Capacity > ShrinkAbove)
        {
            _request = new ArrayBufferWriter<byte>(512);
        }
        else
        {
            _request.ResetWrittenCount();
        }
    }

    /// <summary>Sends the request buffer.</summary>
    /// <param name="cancellationToken">The operation's token.</param>
    /// <returns>A task that completes when the bytes are with the kernel.</returns>
    public ValueTask SendAsync(CancellationToken cancellationToken)
    {
        Progress(); // the time spent writing a large request into the buffer is not the server's
        Volatile.Write(ref _sendStarted, true);
        var request = _request.WrittenMemory;
        if (_values.Count != 0)
        {
            return SendWithValuesAsync(request, cancellationToken);
        }

        return request.Length <= SendChunkBytes ? _stream.WriteAsync(request, cancellationToken) : SendInChunksAsync(request, cancellationToken);
    }

    /// <summary>Sends the request buffer with the appended values in their places, each value from its own memory.</summary>
    private async ValueTask SendWithValuesAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        var from = 0;
        foreach (var (at, data) in _values)
        {
            await SendInChunksAsync(request[from..at], cancellationToken).ConfigureAwait(false);
            await SendInChunksAsync(data, cancellationToken).ConfigureAwait(false);
            from = at;
        }

        await SendInChunksAsync(request[from..], cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SendInChunksAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        while (!request.IsEmpty)
        {
            var chunk = request[..Math.Min(SendChunkBytes, request.Length)];
            await _stream.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            Progress();
            request = request[chunk.Length..];
        }
    }

    /// <summary>Records progress: the stall timeout counts from now.</summary>
    private void Progress() => Volatile.Write(ref _lastProgress, _timeProvider.GetTimestamp());

    /// <summary>The timer: cancels the operation when its window has passed without progress, else waits out the rest of it.</summary>
    private void OnTimer()
    {
        lock (_timerGate)
        {
            if (_window == Timeout.InfiniteTimeSpan || _timeout.IsCancellationRequested)
            {
                return; // disarmed (the operation ended) or already cancelled
            }

            // Until the send starts the operation is still writing its request into the buffer (megabytes, for a large
            // batch): the client's own work, not a stall of the server.
            var quiet = Volatile.Read(ref _sendStarted) ? _timeProvider.GetElapsedTime(Volatile.Read(ref _lastProgress)) : TimeSpan.Zero;
            if (quiet < _window)
            {
                try
                {
                    _timer.Change(_window - quiet, Timeout.InfiniteTimeSpan);
                }
                catch (ObjectDisposedException)
                {
                }

                return;
            }
        }

        CancelIo();
    }

    /// <summary>
    /// Checks, without blocking or sending, that an idle connection can still be used. memcached never speaks unasked,
    /// so an idle socket that polls readable has been closed or reset by the peer (a restart, a cut, an idle timeout) or
    /// is out of step; either way it must not be used. One non-blocking <c>poll</c> call.
    /// </summary>
    /// <returns><see langword="true"/> when the connection looks usable.</returns>
    public bool IsUsableWhileIdle()
    {
        if (IsBroken)
        {
            return false;
        }

        try
        {
            return !_socket.Poll(0, SelectMode.SelectRead);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Reads one response.</summary>
    /// <param name="cancellationToken">The operation's token.</param>
    /// <returns>The response.</returns>
    /// <exception cref="MemcachedProtocolException">The bytes are not a valid response.</exception>
    /// <exception cref="IOException">The server closed the connection mid-response.</exception>
    public async ValueTask<MetaResponse> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                _responseStarted = true;
                Progress();
            }

            bool parsed;
            MetaResponse response;
            try
            {
                parsed = MetaParser.TryParse(ref buffer, _maxValueBytes, out response);
            }
            catch
            {
                IsBroken = true;
                _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }

            if (parsed)
            {
                _reader.AdvanceTo(buffer.Start);
                if (response.IsError)
                {
                    IsBroken = true;
                }
                else if (response.IsOversize)
                {
                    await DiscardValueAsync(response.OversizeBytes, cancellationToken).ConfigureAwait(false);
                }

                return response;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                IsBroken = true;
                throw new IOException(buffer.IsEmpty ? "The server closed the connection." : "The server closed the connection in the middle of a response.");
            }
        }
    }

    /// <summary>
    /// Consumes a value too large to read (see <see cref="MetaResponse.OversizeBytes"/>) and its CRLF as the bytes
    /// arrive, keeping none of them, so the stream is back at the next response and the connection stays usable.
    /// </summary>
    private async ValueTask DiscardValueAsync(int size, CancellationToken cancellationToken)
    {
        long left = size;
        while (left > 0)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                Progress();
            }

            var take = Math.Min(left, buffer.Length);
            left -= take;
            _reader.AdvanceTo(buffer.GetPosition(take));
            if (left > 0 && (result.IsCompleted || result.IsCanceled))
            {
                IsBroken = true;
                throw new IOException("The server closed the connection in the middle of a response.");
            }
        }

        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 2)
            {
                var reader = new SequenceReader<byte>(buffer);
                if (!reader.IsNext("\r\n"u8, advancePast: true))
                {
                    IsBroken = true;
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                    throw new MemcachedProtocolException("A value is not followed by CRLF.");
                }

                _reader.AdvanceTo(reader.Position);
                return;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                IsBroken = true;
                throw new IOException("The server closed the connection in the middle of a response.");
            }
        }
    }

    /// <summary>Reads the answer to <c>stats</c>: <c>STAT name value</c> lines up to <c>END</c>, or the error line that refuses it.</summary>
    /// <param name="cancellationToken">The operation's token.</param>
    /// <returns>The statistics by name, and the server's refusal (code <see cref="MetaResponseCode.None"/> when it answered); the connection stays in step either way.</returns>
    /// <exception cref="MemcachedProtocolException">The server answered with a line that is neither, or with more than <see cref="MaxStatLines"/> lines.</exception>
    /// <exception cref="IOException">The server closed the connection mid-response.</exception>
    public async ValueTask<(Dictionary<string, string> Stats, MetaResponse Refusal)> ReadStatsAsync(CancellationToken cancellationToken)
    {
        var stats = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                _responseStarted = true;
                Progress();
            }

            bool done;
            MetaResponse refusal;
            try
            {
                done = StatsParser.TryParse(ref buffer, stats, MaxStatLines, out refusal);
            }
            catch
            {
                IsBroken = true;
                _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }

            if (done)
            {
                _reader.AdvanceTo(buffer.Start);
                return (stats, refusal);
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                IsBroken = true;
                throw new IOException("The server closed the connection in the middle of a response.");
            }
        }
    }

    /// <summary>The most <c>STAT</c> lines accepted in one answer (memcached 1.6 sends about 90).</summary>
    public const int MaxStatLines = 1_000;

    /// <summary>Marks the connection as not reusable.</summary>
    public void MarkBroken() => IsBroken = true;

    /// <summary>Closes the socket at once, failing any pending send or read.</summary>
    public void Abort()
    {
        IsBroken = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Close();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        IsBroken = true;
        _reader.Complete();
        _stream.Dispose();
        lock (_timerGate)
        {
            _window = Timeout.InfiniteTimeSpan;
            _timer.Dispose();
        }

        _timeout.Dispose();
    }

    private void CancelIo()
    {
        try
        {
            _timeout.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
