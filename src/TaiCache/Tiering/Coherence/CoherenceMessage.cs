using System.Buffers.Binary;
using System.Text;

namespace TaiCache.Tiering.Coherence;

/// <summary>
/// One coherence message and its compact binary form (see <c>docs/coherence.md</c>):
/// <code>
/// offset 0   'T' 'c'         magic
/// offset 2   version         1
/// offset 3   kind            1 invalidate, 2 clear, 3 heartbeat
/// offset 4   origin length   L, 1..200
/// offset 5   origin id       L bytes of UTF-8
/// 5+L        incarnation     uint64 LE, random per instance start
/// 13+L       sequence        int64 LE: this message's number (invalidate, clear) or the latest number used (heartbeat)
/// 21+L       [invalidate] key count (LEB128), then per key: byte length (LEB128) and UTF-8 bytes
///            [heartbeat]  probe: int64 LE, 0 for a periodic heartbeat, else the probe number after a reconnect
/// </code>
/// </summary>
internal readonly record struct CoherenceMessage(CoherenceMessageKind Kind, string Origin, ulong Incarnation, long Sequence, IReadOnlyList<string> Keys, long Probe = 0)
{
    public const byte Magic0 = (byte)'T';
    public const byte Magic1 = (byte)'c';
    public const byte Version = 1;
    public const int MaxOriginBytes = 200;

    internal const int MaxKeysPerMessage = 1_000_000;

    public static byte[] Encode(CoherenceMessageKind kind, string origin, ulong incarnation, long sequence, IReadOnlyList<string>? keys = null, long probe = 0)
    {
        var originBytes = Encoding.UTF8.GetByteCount(origin);
        var size = 5 + originBytes + 16 + (kind == CoherenceMessageKind.Heartbeat ? 8 : 0);
        if (kind == CoherenceMessageKind.Invalidate)
        {
            keys ??= [];
            size += VarIntSize((uint)keys.Count);
            foreach (var key in keys)
            {
                var n = Encoding.UTF8.GetByteCount(key);
                size += VarIntSize((uint)n) + n;
            }
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        span[0] = Magic0;
        span[1] = Magic1;
        span[2] = Version;
        span[3] = (byte)kind;
        span[4] = (byte)originBytes;
        var pos = 5 + Encoding.UTF8.GetBytes(origin, span[5..]);
        BinaryPrimitives.WriteUInt64LittleEndian(span[pos..], incarnation);
        pos += 8;
        BinaryPrimitives.WriteInt64LittleEndian(span[pos..], sequence);
        pos += 8;
        if (kind == CoherenceMessageKind.Invalidate)
        {
            pos += WriteVarInt(span[pos..], (uint)keys!.Count);
            foreach (var key in keys)
            {
                var n = Encoding.UTF8.GetByteCount(key);
                pos += WriteVarInt(span[pos..], (uint)n);
                pos += Encoding.UTF8.GetBytes(key, span[pos..]);
            }
        }
        else if (kind == CoherenceMessageKind.Heartbeat)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[pos..], probe);
        }

        return buffer;
    }

    /// <summary>Reads a message; returns <see langword="false"/> with a reason when the bytes are not a readable message.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out CoherenceMessage message, out string? error)
    {
        message = default;
        error = null;
        if (data.Length < 5 || data[0] != Magic0 || data[1] != Magic1)
        {
            error = "not a TaiCache coherence message (bad magic)";
            return false;
        }

        if (data[2] != Version)
        {
            error = $"unknown message version {data[2]}";
            return false;
        }

        var kind = (CoherenceMessageKind)data[3];
        if (kind is not (CoherenceMessageKind.Invalidate or CoherenceMessageKind.Clear or CoherenceMessageKind.Heartbeat))
        {
            error = $"unknown message kind {data[3]}";
            return false;
        }

        int originLength = data[4];
        if (originLength == 0 || originLength > MaxOriginBytes || data.Length < 5 + originLength + 16)
        {
            error = "truncated header";
            return false;
        }

        string origin;
        try
        {
            origin = StrictUtf8.GetString(data.Slice(5, originLength));
        }
        catch (DecoderFallbackException)
        {
            error = "origin id is not valid UTF-8";
            return false;
        }

        var pos = 5 + originLength;
        var incarnation = BinaryPrimitives.ReadUInt64LittleEndian(data[pos..]);
        pos += 8;
        var sequence = BinaryPrimitives.ReadInt64LittleEndian(data[pos..]);
        pos += 8;
        IReadOnlyList<string> keys = [];
        if (kind == CoherenceMessageKind.Invalidate)
        {
            if (!TryReadVarInt(data, ref pos, out var count) || count > MaxKeysPerMessage || count > (uint)(data.Length - pos))
            {
                error = "bad key count";
                return false;
            }

            var list = new string[count];
            for (var i = 0; i < count; i++)
            {
                if (!TryReadVarInt(data, ref pos, out var length) || length > (uint)(data.Length - pos))
                {
                    error = "truncated key";
                    return false;
                }

                try
                {
                    list[i] = StrictUtf8.GetString(data.Slice(pos, (int)length));
                }
                catch (DecoderFallbackException)
                {
                    error = "key is not valid UTF-8";
                    return false;
                }

                pos += (int)length;
            }

            keys = list;
        }

        long probe = 0;
        if (kind == CoherenceMessageKind.Heartbeat)
        {
            if (data.Length - pos < 8)
            {
                error = "truncated heartbeat";
                return false;
            }

            probe = BinaryPrimitives.ReadInt64LittleEndian(data[pos..]);
            pos += 8;
        }

        if (pos != data.Length)
        {
            error = "trailing bytes";
            return false;
        }

        message = new CoherenceMessage(kind, origin, incarnation, sequence, keys, probe);
        return true;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static int VarIntSize(uint value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static int WriteVarInt(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    private static bool TryReadVarInt(ReadOnlySpan<byte> data, ref int pos, out uint value)
    {
        value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (pos >= data.Length)
            {
                return false;
            }

            var b = data[pos++];
            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }
}
