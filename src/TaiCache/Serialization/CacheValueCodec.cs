using System.Buffers;
using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace TaiCache.Serialization;

/// <summary>
/// Wraps serialized values in TaiCache's stored-bytes envelope, the one format every backend writes (see
/// <c>docs/format.md</c>):
/// <code>
/// offset 0  'T' 'C'        magic
/// offset 2  version        format version, 1
/// offset 3  serializer id  1 MessagePack, 2 System.Text.Json, 128-255 user serializers
/// offset 4  flags          bit 0: payload is LZ4 block-compressed; bit 1: an expiry follows; other bits reserved (must be 0)
/// [int64 LE                expiry, Unix milliseconds, only when bit 1 is set]
/// [int32 LE                uncompressed length, only when bit 0 is set]
/// payload
/// </code>
/// A reader refuses bytes without the magic, from a newer format, from an unknown serializer or with reserved flags,
/// with a <see cref="CacheSerializationException"/> that names the key.
/// </summary>
internal sealed class CacheValueCodec
{
    /// <summary>The current envelope version.</summary>
    public const byte FormatVersion = 1;

    /// <summary>The envelope's first byte.</summary>
    public const byte Magic0 = (byte)'T';

    /// <summary>The envelope's second byte.</summary>
    public const byte Magic1 = (byte)'C';

    /// <summary>The flag bit for an LZ4-compressed payload.</summary>
    public const byte FlagLz4 = 1;

    /// <summary>The flag bit for an absolute expiry (8 bytes, Unix milliseconds, little-endian) after the flags byte.</summary>
    public const byte FlagExpiry = 2;

    private const int HeaderSize = 5;
    private const int ExpirySize = 8;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    private readonly ICacheSerializer _writer;
    private readonly ICacheSerializer?[] _readers = new ICacheSerializer?[256];
    private readonly int _compressionThreshold;

    // Compression that keeps failing (payloads already compressed or random) is tried less often: after
    // IncompressibleStreak failures in a row only one encode in ProbeInterval tries, and one success resumes every
    // attempt. Racy counters on purpose: this is a heuristic, and any interleaving leaves valid output.
    private const int IncompressibleStreak = 8;
    private const int ProbeInterval = 16;
    private int _compressionFailures;
    private int _skippedAttempts;
    private readonly int _maxValueBytes;

    public CacheValueCodec(CacheSerializationOptions? options = null)
    {
        options ??= new CacheSerializationOptions();
        options.Validate();
        _writer = options.Serializer;
        _compressionThreshold = options.CompressionThresholdBytes ?? int.MaxValue;
        _maxValueBytes = options.MaxValueBytes;
        _readers[MessagePackCacheSerializer.SerializerId] = MessagePackCacheSerializer.Default;
        _readers[SystemTextJsonCacheSerializer.SerializerId] = SystemTextJsonCacheSerializer.Default;
        foreach (var reader in options.AdditionalReaders)
        {
            _readers[reader.Id] = reader;
        }

        _readers[_writer.Id] = _writer;
    }

    /// <summary>The absolute expiry to record for a value stored now with <paramref name="ttl"/> (0 without one).</summary>
    /// <param name="ttl">The effective time to live, the tier's default applied.</param>
    /// <param name="time">The writing tier's clock.</param>
    /// <returns>Unix milliseconds, or 0.</returns>
    public static long ExpiryFor(TimeSpan? ttl, TimeProvider time) =>
        ttl is { } t ? (long)Math.Min(time.GetUtcNow().ToUnixTimeMilliseconds() + Math.Ceiling(t.TotalMilliseconds), MaxExpiryUnixMs) : 0;

    /// <summary>The latest expiry recorded: the last millisecond a <see cref="DateTimeOffset"/> holds (a TTL of
    /// <see cref="TimeSpan.MaxValue"/> recorded past it, and reading the hit's expiry then threw).</summary>
    public const long MaxExpiryUnixMs = 253_402_300_799_999;

    /// <summary>Gets a codec with the default options.</summary>
    public static CacheValueCodec Default { get; } = new();

    /// <summary>Gets the serializer new values are written with.</summary>
    public ICacheSerializer Serializer => _writer;

    /// <summary>Serializes a value into a new array holding the envelope.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key, for the error message.</param>
    /// <param name="value">The value.</param>
    /// <param name="expiresAtUnixMs">When the value expires (Unix milliseconds, wall clock), recorded in the envelope so a tier that copies it knows how long it has left; 0 for no expiry.</param>
    /// <returns>The stored bytes.</returns>
    /// <exception cref="CacheSerializationException">The serializer cannot handle the value.</exception>
    /// <exception cref="CacheValueTooLargeException">The serialized value is larger than <see cref="CacheSerializationOptions.MaxValueBytes"/>.</exception>
    public byte[] Encode<T>(string key, T value, long expiresAtUnixMs = 0) => Encode(key, value, expiresAtUnixMs, member: false);

    /// <summary>
    /// Encodes a set or sorted-set member, which the server matches by its bytes: compressed whenever that helps, never
    /// skipping the attempt after a streak of incompressible values (see <see cref="Encode{T}(string, T, long)"/>), so
    /// equal members encode to equal bytes on every instance with the same options, whatever each wrote before.
    /// </summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The collection's key, for error messages.</param>
    /// <param name="member">The member.</param>
    /// <returns>The stored bytes.</returns>
    public byte[] EncodeMember<T>(string key, T member) => Encode(key, member, 0, member: true);

    private byte[] Encode<T>(string key, T value, long expiresAtUnixMs, bool member)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        try
        {
            // A generic interface method dispatches through a runtime lookup on every call; the default serializer is
            // sealed, so calling it as itself is a direct call.
            if (_writer is MessagePackCacheSerializer messagePack)
            {
                messagePack.Serialize(buffer, value);
            }
            else
            {
                _writer.Serialize(buffer, value);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new CacheSerializationException($"The value for {TaiCacheDiagnostics.DescribeKey(key)} (type {typeof(T).Name}) could not be serialized by {_writer.GetType().Name}: {ex.Message}", key, ex);
        }

        var payload = buffer.WrittenSpan;
        try
        {
            if (payload.Length > _maxValueBytes)
            {
                // Every reader refuses a payload over the limit (a decompression-bomb guard), so storing it would leave
                // a value no read can return: refuse it here, before any tier sees it.
                throw new CacheValueTooLargeException(
                    $"The value for {TaiCacheDiagnostics.DescribeKey(key)} (type {typeof(T).Name}) serializes to {payload.Length} bytes, over CacheSerializationOptions.MaxValueBytes ({_maxValueBytes}); nothing was stored. Store a smaller value or raise MaxValueBytes on every instance that reads it.",
                    key);
            }

            if (payload.Length >= _compressionThreshold && (member || ShouldTryCompression()))
            {
                var compressed = TryCompress(payload, expiresAtUnixMs);
                if (!member)
                {
                    _compressionFailures = compressed is null ? _compressionFailures + 1 : 0;
                }

                if (compressed is not null)
                {
                    return compressed;
                }
            }

            var header = HeaderLength(expiresAtUnixMs, 0);
            var result = new byte[header + payload.Length];
            WriteHeader(result, 0, expiresAtUnixMs);
            payload.CopyTo(result.AsSpan(header));
            return result;
        }
        finally
        {
            if (buffer.Capacity > 1024 * 1024)
            {
                t_buffer = null; // do not keep a huge buffer alive per thread
            }
        }
    }

    /// <summary>Reads a value from stored bytes.</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <param name="key">The key, for the error message.</param>
    /// <param name="data">The stored bytes, envelope included.</param>
    /// <returns>The value.</returns>
    /// <exception cref="CacheSerializationException">The bytes are not a TaiCache value of a readable format, or not a <typeparamref name="T"/>.</exception>
    public T Decode<T>(string key, ReadOnlyMemory<byte> data) => Decode<T>(key, data, out _);

    /// <summary>Reads a value from stored bytes, with the expiry its writer recorded.</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <param name="key">The key, for the error message.</param>
    /// <param name="data">The stored bytes, envelope included.</param>
    /// <param name="expiresAtUnixMs">When the value expires (Unix milliseconds), or 0 when its writer recorded none.</param>
    /// <returns>The value.</returns>
    /// <exception cref="CacheSerializationException">The bytes are not a TaiCache value of a readable format, or not a <typeparamref name="T"/>.</exception>
    public T Decode<T>(string key, ReadOnlyMemory<byte> data, out long expiresAtUnixMs)
    {
        expiresAtUnixMs = 0;
        var span = data.Span;
        if (span.Length < HeaderSize || span[0] != Magic0 || span[1] != Magic1)
        {
            throw Fail(key, span.Length is >= 2 and < HeaderSize && span[0] == Magic0 && span[1] == Magic1
                ? $"the stored bytes are a truncated TaiCache header ({span.Length} of {HeaderSize} bytes)"
                : "the stored bytes do not start with TaiCache's header (another client wrote them, or they are corrupt)");
        }

        if (span[2] != FormatVersion)
        {
            throw Fail(key, span[2] > FormatVersion
                ? $"the stored bytes start with 'TC' and then format version {span[2]}, newer than this TaiCache reads ({FormatVersion}): a newer TaiCache wrote them (upgrade this instance), or they are another client's bytes that happen to start with 'TC'"
                : $"the stored format version {span[2]} is unknown");
        }

        var serializer = _readers[span[3]] ?? throw Fail(key, $"the value was written by serializer id {span[3]}, which this instance does not know; register it in CacheSerializationOptions.AdditionalReaders");
        var flags = span[4];
        if ((flags & ~(FlagLz4 | FlagExpiry)) != 0)
        {
            throw Fail(key, $"the header carries unknown flags 0x{flags:x2}");
        }

        var start = HeaderSize;
        if ((flags & FlagExpiry) != 0)
        {
            if (span.Length < HeaderSize + ExpirySize)
            {
                throw Fail(key, "the expiry is truncated");
            }

            expiresAtUnixMs = BinaryPrimitives.ReadInt64LittleEndian(span[HeaderSize..]);
            start += ExpirySize;
        }

        ReadOnlyMemory<byte> payload = data[start..];
        if ((flags & FlagLz4) != 0)
        {
            payload = Decompress(key, payload.Span);
        }
        else if (payload.Length > _maxValueBytes)
        {
            throw Fail(key, $"the value is {payload.Length} bytes, over the {_maxValueBytes}-byte limit");
        }

        try
        {
            return serializer is MessagePackCacheSerializer messagePack ? messagePack.Deserialize<T>(payload) : serializer.Deserialize<T>(payload);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new CacheSerializationException($"The value under {TaiCacheDiagnostics.DescribeKey(key)} could not be read as {typeof(T).Name} by {serializer.GetType().Name}: {ex.Message}", key, ex);
        }
    }

    /// <summary>The expiry stored bytes record (Unix milliseconds), without reading the value: 0 when they record none or are not an envelope of this format version.</summary>
    /// <param name="stored">The stored bytes.</param>
    internal static long RecordedExpiry(ReadOnlySpan<byte> stored) =>
        stored.Length >= HeaderSize + ExpirySize && stored[0] == Magic0 && stored[1] == Magic1 && stored[2] == FormatVersion && (stored[4] & FlagExpiry) != 0
            ? BinaryPrimitives.ReadInt64LittleEndian(stored[HeaderSize..])
            : 0;

    /// <summary>
    /// Stored bytes with the expiry their envelope records replaced by <paramref name="expiresAtUnixMs"/> (added when
    /// the writer recorded none), for a tier whose <c>ExpireAsync</c> changes a value's TTL in place: a tier that copies
    /// the value later must see the new expiry, not the one it was written with.
    /// </summary>
    /// <param name="stored">The stored bytes.</param>
    /// <param name="expiresAtUnixMs">The new expiry, Unix milliseconds; positive.</param>
    /// <returns>The patched bytes, or <see langword="null"/> when <paramref name="stored"/> is not an envelope of this format version (a counter, another client's bytes), which then carry no expiry to fix.</returns>
    public static byte[]? WithExpiry(ReadOnlySpan<byte> stored, long expiresAtUnixMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expiresAtUnixMs);
        if (stored.Length < HeaderSize || stored[0] != Magic0 || stored[1] != Magic1 || stored[2] != FormatVersion
            || (stored[4] & ~(FlagLz4 | FlagExpiry)) != 0)
        {
            return null;
        }

        var hasExpiry = (stored[4] & FlagExpiry) != 0;
        if (hasExpiry && stored.Length < HeaderSize + ExpirySize)
        {
            return null;
        }

        var rest = stored[(HeaderSize + (hasExpiry ? ExpirySize : 0))..];
        var result = new byte[HeaderSize + ExpirySize + rest.Length];
        stored[..HeaderSize].CopyTo(result);
        result[4] |= FlagExpiry;
        BinaryPrimitives.WriteInt64LittleEndian(result.AsSpan(HeaderSize), expiresAtUnixMs);
        rest.CopyTo(result.AsSpan(HeaderSize + ExpirySize));
        return result;
    }

    private static CacheSerializationException Fail(string key, string why) =>
        new($"The value under {TaiCacheDiagnostics.DescribeKey(key)} cannot be read: {why}.", key);

    private static int HeaderLength(long expiresAtUnixMs, int extra) => HeaderSize + (expiresAtUnixMs > 0 ? ExpirySize : 0) + extra;

    private void WriteHeader(Span<byte> destination, byte flags, long expiresAtUnixMs)
    {
        destination[0] = Magic0;
        destination[1] = Magic1;
        destination[2] = FormatVersion;
        destination[3] = _writer.Id;
        destination[4] = (byte)(flags | (expiresAtUnixMs > 0 ? FlagExpiry : 0));
        if (expiresAtUnixMs > 0)
        {
            BinaryPrimitives.WriteInt64LittleEndian(destination[HeaderSize..], expiresAtUnixMs);
        }
    }

    private bool ShouldTryCompression() =>
        _compressionFailures < IncompressibleStreak || ++_skippedAttempts % ProbeInterval == 0;

    private byte[]? TryCompress(ReadOnlySpan<byte> payload, long expiresAtUnixMs)
    {
        var max = LZ4Codec.MaximumOutputSize(payload.Length);
        var rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            var written = LZ4Codec.Encode(payload, rented.AsSpan(0, max), LZ4Level.L00_FAST);
            if (written <= 0 || written + 4 >= payload.Length)
            {
                return null;
            }

            var header = HeaderLength(expiresAtUnixMs, 4);
            var result = new byte[header + written];
            WriteHeader(result, FlagLz4, expiresAtUnixMs);
            BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(header - 4), payload.Length);
            rented.AsSpan(0, written).CopyTo(result.AsSpan(header));
            return result;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private byte[] Decompress(string key, ReadOnlySpan<byte> compressed)
    {
        if (compressed.Length < 4)
        {
            throw Fail(key, "the compressed value is truncated");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(compressed);
        if (length < 0 || length > _maxValueBytes)
        {
            throw Fail(key, $"the value claims {length} bytes uncompressed, outside 0..{_maxValueBytes}");
        }

        var result = new byte[length];
        var decoded = LZ4Codec.Decode(compressed[4..], result);
        if (decoded != length)
        {
            throw Fail(key, "the compressed value is corrupt or truncated");
        }

        return result;
    }
}
