namespace TaiCache.Memcached.Protocol;

/// <summary>
/// The <c>mn</c> no-ops a large quiet write batch carries every <see cref="EveryBytes"/> bytes. memcached answers a
/// quiet set with nothing, so without them the only answer to megabytes of values is the closing <c>MN</c>, and the
/// stall timeout would see no progress while the server (or a slow link) works through the bytes the socket had
/// already taken. Each marker's <c>MN</c> shows how far the server has got.
/// </summary>
internal struct ProgressMarkers
{
    /// <summary>The request bytes between two markers.</summary>
    public const int EveryBytes = 64 * 1024;

    private long _markedAt;

    /// <summary>Gets the number of markers written.</summary>
    public int Count { get; private set; }

    /// <summary>Writes a marker when <see cref="EveryBytes"/> bytes have been written since the last one.</summary>
    /// <param name="connection">The connection whose request is being written, just after a whole command.</param>
    public void AddIfDue(MemcachedConnection connection)
    {
        if (connection.RequestBytes - _markedAt < EveryBytes)
        {
            return;
        }

        MetaRequestWriter.WriteNoOp(connection.Request);
        _markedAt = connection.RequestBytes;
        Count++;
    }
}
