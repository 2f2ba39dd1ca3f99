using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace TaiCache.Memcached.Protocol;

/// <summary>Writes meta-protocol commands. Keys reach it already validated (no spaces, no control characters, at most 250 bytes).</summary>
internal static class MetaRequestWriter
{
    /// <summary>The longest a command line can get (250-byte key plus flags).</summary>
    private const int MaxCommandLine = 400;

    /// <summary>Writes <c>mg key flags\r\n</c>.</summary>
    /// <param name="writer">The request buffer.</param>
    /// <param name="key">The wire key.</param>
    /// <param name="withValue">Asks for the value, the client flags and the seconds left (<c>v f t</c>).</param>
    /// <param name="withCas">Asks for the CAS token (<c>c</c>).</param>
    /// <param name="touchExptime">When not <see langword="null"/>, sets a new expiry (<c>T</c>).</param>
    /// <param name="quiet">Suppresses the miss line (<c>q</c>).</param>
    /// <param name="opaque">When non-negative, echoed back (<c>O</c>).</param>
    /// <param name="withFlags">Without the value, asks for the client flags and the seconds left (<c>f t</c>).</param>
    public static void WriteGet(IBufferWriter<byte> writer, string key, bool withValue, bool withCas = false, long? touchExptime = null, bool quiet = false, int opaque = -1, bool withFlags = false)
    {
        var span = writer.GetSpan(MaxCommandLine);
        var n = Put(span, 0, "mg "u8);
        n += Encoding.UTF8.GetBytes(key, span[n..]);
        if (withValue)
        {
            n = Put(span, n, " v f t"u8);
        }
        else if (withFlags)
        {
            n = Put(span, n, " f t"u8);
        }

        if (withCas)
        {
            n = Put(span, n, " c"u8);
        }

        if (touchExptime is { } t)
        {
            n = PutFlag(span, n, (byte)'T', t);
        }

        n = EndCommand(span, n, quiet, opaque);
        writer.Advance(n);
    }

    /// <summary>Writes <c>ms key size flags\r\ndata\r\n</c>.</summary>
    /// <param name="writer">The request buffer.</param>
    /// <param name="key">The wire key.</param>
    /// <param name="data">The value bytes.</param>
    /// <param name="clientFlags">The client flags stored with the item (<c>F</c>).</param>
    /// <param name="exptime">The expiry (<c>T</c>), 0 for none.</param>
    /// <param name="mode">The mode letter (<c>M</c>): 0 for set, <c>E</c> add, <c>R</c> replace.</param>
    /// <param name="cas">When non-zero, stores only if the item's CAS token still matches (<c>C</c>).</param>
    /// <param name="quiet">Suppresses the success line (<c>q</c>).</param>
    /// <param name="opaque">When non-negative, echoed back (<c>O</c>).</param>
    public static void WriteSet(IBufferWriter<byte> writer, string key, ReadOnlySpan<byte> data, uint clientFlags, long exptime, byte mode = 0, ulong cas = 0, bool quiet = false, int opaque = -1)
    {
        WriteSetLine(writer, key, data.Length, clientFlags, exptime, mode, cas, quiet, opaque);
        writer.Write(data);
        writer.Write("\r\n"u8);
    }

    /// <summary>
    /// Writes a <c>ms</c> into a connection's request as <see cref="WriteSet(IBufferWriter{byte}, string, ReadOnlySpan{byte}, uint, long, byte, ulong, bool, int)"/> does, except that a large value is
    /// appended by reference (<see cref="MemcachedConnection.AppendValue"/>) and sent from its own array, not copied.
    /// </summary>
    /// <param name="connection">The connection whose request is being written.</param>
    /// <param name="key">The wire key.</param>
    /// <param name="data">The value bytes; unchanged until the operation ends.</param>
    /// <param name="clientFlags">The client flags stored with the item (<c>F</c>).</param>
    /// <param name="exptime">The expiry (<c>T</c>), 0 for none.</param>
    /// <param name="mode">The mode letter (<c>M</c>): 0 for set, <c>E</c> add, <c>R</c> replace.</param>
    /// <param name="quiet">Suppresses the success line (<c>q</c>).</param>
    /// <param name="opaque">When non-negative, echoed back (<c>O</c>).</param>
    public static void WriteSet(MemcachedConnection connection, string key, ReadOnlyMemory<byte> data, uint clientFlags, long exptime, byte mode = 0, bool quiet = false, int opaque = -1)
    {
        if (data.Length < CopyValuesBelow)
        {
            WriteSet(connection.Request, key, data.Span, clientFlags, exptime, mode, cas: 0, quiet, opaque);
            return;
        }

        WriteSetLine(connection.Request, key, data.Length, clientFlags, exptime, mode, cas: 0, quiet, opaque);
        connection.AppendValue(data);
        connection.Request.Write("\r\n"u8);
    }

    /// <summary>Values from this size up are sent from their own arrays by <see cref="WriteSet(MemcachedConnection, string, ReadOnlyMemory{byte}, uint, long, byte, bool, int)"/>; smaller ones are copied, to keep writes few.</summary>
    private const int CopyValuesBelow = 16 * 1024;

    private static void WriteSetLine(IBufferWriter<byte> writer, string key, int length, uint clientFlags, long exptime, byte mode, ulong cas, bool quiet, int opaque)
    {
        var span = writer.GetSpan(MaxCommandLine);
        var n = Put(span, 0, "ms "u8);
        n += Encoding.UTF8.GetBytes(key, span[n..]);
        span[n++] = (byte)' ';
        n = PutNumber(span, n, length);
        n = PutFlag(span, n, (byte)'F', (long)clientFlags);
        if (exptime != 0)
        {
            n = PutFlag(span, n, (byte)'T', exptime);
        }

        if (mode != 0)
        {
            span[n++] = (byte)' ';
            span[n++] = (byte)'M';
            span[n++] = mode;
        }

        if (cas != 0)
        {
            n = PutFlag(span, n, (byte)'C', cas);
        }

        n = EndCommand(span, n, quiet, opaque);
        writer.Advance(n);
    }

    /// <summary>Writes <c>md key flags\r\n</c>.</summary>
    /// <param name="writer">The request buffer.</param>
    /// <param name="key">The wire key.</param>
    /// <param name="quiet">Suppresses the success line (<c>q</c>); memcached 1.6.18 still sends <c>NF</c>, the protocol lets a server drop it too.</param>
    /// <param name="opaque">When non-negative, echoed back (<c>O</c>).</param>
    /// <param name="invalidate">Marks the item stale instead of removing it (<c>I</c>), which also frees its recache token.</param>
    /// <param name="cas">When non-zero, acts only if the item's CAS token still matches (<c>C</c>).</param>
    public static void WriteDelete(IBufferWriter<byte> writer, string key, bool quiet = false, int opaque = -1, bool invalidate = false, ulong cas = 0)
    {
        var span = writer.GetSpan(MaxCommandLine);
        var n = Put(span, 0, "md "u8);
        n += Encoding.UTF8.GetBytes(key, span[n..]);
        if (invalidate)
        {
            n = Put(span, n, " I"u8);
        }

        if (cas != 0)
        {
            n = PutFlag(span, n, (byte)'C', cas);
        }

        n = EndCommand(span, n, quiet, opaque);
        writer.Advance(n);
    }

    /// <summary>Writes <c>ma key N J D M v\r\n</c>: an increment or decrement that creates the counter when missing.</summary>
    /// <param name="writer">The request buffer.</param>
    /// <param name="key">The wire key.</param>
    /// <param name="delta">The amount (<c>D</c>).</param>
    /// <param name="initial">The value a missing counter starts at (<c>J</c>).</param>
    /// <param name="createExptime">The expiry of a created counter (<c>N</c>), 0 for none.</param>
    /// <param name="decrement">Decrements (<c>MD</c>) instead of incrementing (<c>MI</c>).</param>
    /// <param name="opaque">When non-negative, echoed back (<c>O</c>).</param>
    public static void WriteArithmetic(IBufferWriter<byte> writer, string key, ulong delta, ulong initial, long createExptime, bool decrement, int opaque = -1)
    {
        var span = writer.GetSpan(MaxCommandLine);
        var n = Put(span, 0, "ma "u8);
        n += Encoding.UTF8.GetBytes(key, span[n..]);
        n = PutFlag(span, n, (byte)'N', createExptime);
        n = PutFlag(span, n, (byte)'J', initial);
        n = PutFlag(span, n, (byte)'D', delta);
        n = Put(span, n, decrement ? " MD v"u8 : " MI v"u8);
        if (opaque >= 0)
        {
            n = PutFlag(span, n, (byte)'O', opaque);
        }

        n = Put(span, n, "\r\n"u8);
        writer.Advance(n);
    }

    /// <summary>Writes <c>mn\r\n</c>, which the server answers with <c>MN</c> after everything before it.</summary>
    /// <param name="writer">The request buffer.</param>
    public static void WriteNoOp(IBufferWriter<byte> writer) => writer.Write("mn\r\n"u8);

    /// <summary>Writes <c>flush_all\r\n</c> (the classic command; the meta protocol has no flush).</summary>
    /// <param name="writer">The request buffer.</param>
    public static void WriteFlushAll(IBufferWriter<byte> writer) => writer.Write("flush_all\r\n"u8);

    /// <summary>Writes <c>stats</c>: the server's general statistics, one <c>STAT name value</c> line each, then <c>END</c>.</summary>
    public static void WriteStats(IBufferWriter<byte> writer) => writer.Write("stats\r\n"u8);

    private static int Put(Span<byte> span, int n, ReadOnlySpan<byte> text)
    {
        text.CopyTo(span[n..]);
        return n + text.Length;
    }

    private static int PutFlag(Span<byte> span, int n, byte flag, long value)
    {
        span[n++] = (byte)' ';
        span[n++] = flag;
        return PutNumber(span, n, value);
    }

    private static int PutFlag(Span<byte> span, int n, byte flag, ulong value)
    {
        span[n++] = (byte)' ';
        span[n++] = flag;
        Utf8Formatter.TryFormat(value, span[n..], out var written);
        return n + written;
    }

    private static int PutNumber(Span<byte> span, int n, long value)
    {
        Utf8Formatter.TryFormat(value, span[n..], out var written);
        return n + written;
    }

    /// <summary>Ends a command line: the quiet flag (<c>q</c>), the opaque (<c>O</c>) and CRLF.</summary>
    private static int EndCommand(Span<byte> span, int n, bool quiet, int opaque)
    {
        if (quiet)
        {
            n = Put(span, n, " q"u8);
        }

        if (opaque >= 0)
        {
            n = PutFlag(span, n, (byte)'O', opaque);
        }

        return Put(span, n, "\r\n"u8);
    }
}
