using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace TaiCache.Memcached.Protocol;

/// <summary>
/// Parses meta-protocol responses from a byte sequence. Pure and bounded: it either returns one complete response,
/// says more bytes are needed, or throws <see cref="MemcachedProtocolException"/>; it never reads past the response it
/// returns and never waits for a line longer than <see cref="MaxLineBytes"/>. The one exception to "complete": a value
/// larger than the limit the caller passes (another client's item, written where the server's <c>-I</c> is larger) is
/// returned as soon as its header line is in, with <see cref="MetaResponse.OversizeBytes"/> set and the buffer sliced
/// past that line only; the caller discards the value bytes and their CRLF as they arrive, without buffering them.
/// </summary>
internal static class MetaParser
{
    /// <summary>The longest response line accepted; memcached's own lines are far shorter.</summary>
    public const int MaxLineBytes = 2048;

    /// <summary>The largest value size believed at all: memcached's item size limit (<c>-I</c>) cannot exceed 1 GiB.</summary>
    public const int MaxServerValueBytes = 1024 * 1024 * 1024;

    /// <summary>Tries to parse one response from the start of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">The unread bytes; on success, sliced past the response.</param>
    /// <param name="maxValueBytes">The largest value read into a <c>VA</c> response; a larger one is returned without its bytes (see <see cref="MetaResponse.OversizeBytes"/>).</param>
    /// <param name="response">The response.</param>
    /// <returns><see langword="true"/> when a whole response was parsed; <see langword="false"/> when more bytes are needed.</returns>
    /// <exception cref="MemcachedProtocolException">The bytes are not a valid response.</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, int maxValueBytes, out MetaResponse response)
    {
        response = default;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> lineSeq, (byte)'\n', advancePastDelimiter: true))
        {
            if (buffer.Length > MaxLineBytes)
            {
                throw new MemcachedProtocolException($"A response line is longer than {MaxLineBytes} bytes.");
            }

            return false;
        }

        if (lineSeq.Length > MaxLineBytes)
        {
            throw new MemcachedProtocolException($"A response line is longer than {MaxLineBytes} bytes.");
        }

        Span<byte> lineBuffer = stackalloc byte[MaxLineBytes];
        var line = lineBuffer[..(int)lineSeq.Length];
        lineSeq.CopyTo(line);
        if (line.Length == 0 || line[^1] != (byte)'\r')
        {
            throw new MemcachedProtocolException("A response line does not end with CRLF.");
        }

        line = line[..^1];
        var code = ReadToken(ref line);
        MetaResponseCode status;
        if (code.Length == 2)
        {
            status = (code[0], code[1]) switch
            {
                ((byte)'V', (byte)'A') => MetaResponseCode.Value,
                ((byte)'H', (byte)'D') => MetaResponseCode.Stored,
                ((byte)'E', (byte)'N') => MetaResponseCode.Miss,
                ((byte)'N', (byte)'F') => MetaResponseCode.NotFound,
                ((byte)'N', (byte)'S') => MetaResponseCode.NotStored,
                ((byte)'E', (byte)'X') => MetaResponseCode.Exists,
                ((byte)'M', (byte)'N') => MetaResponseCode.NoOp,
                ((byte)'O', (byte)'K') => MetaResponseCode.Ok,
                _ => throw Unknown(),
            };
        }
        else if (code.SequenceEqual("ERROR"u8))
        {
            response = new MetaResponse { Code = MetaResponseCode.Error, Opaque = -1, ErrorMessage = ReadMessage(line) };
            buffer = buffer.Slice(reader.Position);
            return true;
        }
        else if (code.SequenceEqual("CLIENT_ERROR"u8))
        {
            response = new MetaResponse { Code = MetaResponseCode.ClientError, Opaque = -1, ErrorMessage = ReadMessage(line) };
            buffer = buffer.Slice(reader.Position);
            return true;
        }
        else if (code.SequenceEqual("SERVER_ERROR"u8))
        {
            response = new MetaResponse { Code = MetaResponseCode.ServerError, Opaque = -1, ErrorMessage = ReadMessage(line) };
            buffer = buffer.Slice(reader.Position);
            return true;
        }
        else
        {
            throw Unknown();
        }

        var size = -1;
        if (status == MetaResponseCode.Value)
        {
            var sizeToken = ReadToken(ref line);
            if (!Utf8Parser.TryParse(sizeToken, out size, out var used) || used != sizeToken.Length || size < 0)
            {
                throw new MemcachedProtocolException("A VA response carries no valid size.");
            }

            if (size > MaxServerValueBytes)
            {
                throw new MemcachedProtocolException($"A VA response announces {size} bytes, more than memcached can hold in an item.");
            }
        }

        uint clientFlags = 0;
        ulong cas = 0;
        var opaque = -1;
        int? ttl = null;
        var stale = false;
        var won = false;
        while (true)
        {
            var token = ReadToken(ref line);
            if (token.IsEmpty)
            {
                break;
            }

            var value = token[1..];
            int used;
            var ok = token[0] switch
            {
                (byte)'f' => Utf8Parser.TryParse(value, out clientFlags, out used) && used == value.Length,
                (byte)'c' => Utf8Parser.TryParse(value, out cas, out used) && used == value.Length,
                (byte)'O' => Utf8Parser.TryParse(value, out opaque, out used) && used == value.Length && opaque >= 0,
                (byte)'t' => ParseTtl(value, out ttl),
                (byte)'X' => stale = true, // invalidated by another client (md key I): the item is stale
                (byte)'W' => won = true, // this read won the right to refill the item (see MetaResponse.WonRecache)
                >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' => true,
                _ => false,
            };
            if (!ok)
            {
                throw new MemcachedProtocolException("A response carries a malformed flag.");
            }
        }

        if (status == MetaResponseCode.Value && size > maxValueBytes)
        {
            // Over this client's limit: the header alone, the value bytes are the caller's to discard.
            response = new MetaResponse { Code = status, ClientFlags = clientFlags, Cas = cas, Opaque = opaque, RemainingTtl = ttl, IsStale = stale, WonRecache = won, OversizeBytes = size };
            buffer = buffer.Slice(reader.Position);
            return true;
        }

        byte[]? data = null;
        if (status == MetaResponseCode.Value)
        {
            if (reader.Remaining < size + 2L)
            {
                return false;
            }

            data = size == 0 ? [] : new byte[size];
            if (!reader.TryCopyTo(data))
            {
                return false;
            }

            reader.Advance(size);
            if (!reader.IsNext("\r\n"u8, advancePast: true))
            {
                throw new MemcachedProtocolException("A value is not followed by CRLF.");
            }
        }

        response = new MetaResponse { Code = status, Data = data, ClientFlags = clientFlags, Cas = cas, Opaque = opaque, RemainingTtl = ttl, IsStale = stale, WonRecache = won };
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool ParseTtl(ReadOnlySpan<byte> value, out int? ttl)
    {
        ttl = null;
        if (Utf8Parser.TryParse(value, out int t, out var used) && used == value.Length && t >= -1)
        {
            ttl = t;
            return true;
        }

        return false;
    }

    private static ReadOnlySpan<byte> ReadToken(ref Span<byte> line)
    {
        while (!line.IsEmpty && line[0] == (byte)' ')
        {
            line = line[1..];
        }

        var end = line.IndexOf((byte)' ');
        if (end < 0)
        {
            end = line.Length;
        }

        var token = line[..end];
        line = line[end..];
        foreach (var b in token)
        {
            if (b < 0x21 || b > 0x7E)
            {
                throw new MemcachedProtocolException("A response line holds a non-printable byte.");
            }
        }

        return token;
    }

    private static string ReadMessage(ReadOnlySpan<byte> rest)
    {
        rest = rest.TrimStart((byte)' ');
        var text = Encoding.ASCII.GetString(rest.Length > 200 ? rest[..200] : rest);
        return string.Create(text.Length, text, static (span, s) =>
        {
            for (var i = 0; i < s.Length; i++)
            {
                span[i] = s[i] is >= ' ' and <= '~' ? s[i] : '?';
            }
        });
    }

    private static MemcachedProtocolException Unknown() => new("The server sent a response this client does not know.");
}
