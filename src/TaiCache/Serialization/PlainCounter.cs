using System.Buffers.Text;
using System.Text;

namespace TaiCache.Serialization;

/// <summary>
/// Reads a counter the server stores as plain decimal text (Redis <c>INCRBY</c>, memcached <c>incr</c>), not in the
/// TaiCache envelope, as the type a caller asks for: a 64-bit integer, a 32-bit one when it fits, or the text itself.
/// </summary>
internal static class PlainCounter
{
    /// <summary>Converts counter text to <typeparamref name="T"/> when it is a decimal integer that type can hold.</summary>
    /// <typeparam name="T"><see cref="long"/>, <see cref="ulong"/>, <see cref="int"/> (or nullable), or <see cref="string"/>.</typeparam>
    /// <param name="text">The stored bytes.</param>
    /// <param name="padded">Whether trailing spaces are the server's padding (memcached pads decremented counters); Redis
    /// never pads, so there text with spaces is another client's text, not a counter.</param>
    /// <param name="value">The counter as <typeparamref name="T"/>.</param>
    /// <returns><see langword="false"/> when the bytes are not a counter (in the servers' own form: an optional minus,
    /// digits without a leading zero or plus sign) or <typeparamref name="T"/> cannot hold it.</returns>
    public static bool TryRead<T>(ReadOnlySpan<byte> text, bool padded, out T value)
    {
        value = default!;
        var span = padded ? text.TrimEnd((byte)' ') : text;
        if (span.Length is 0 or > 20 || !IsDecimalInteger(span))
        {
            return false;
        }

        var signed = Utf8Parser.TryParse(span, out long number, out var used) && used == span.Length;
        var unsigned = Utf8Parser.TryParse(span, out ulong large, out used) && used == span.Length;
        if (!signed && !unsigned)
        {
            return false;
        }

        object? boxed = typeof(T) switch
        {
            var t when t == typeof(long) || t == typeof(long?) => signed ? number : null,
            var t when t == typeof(ulong) || t == typeof(ulong?) => unsigned ? large : null,
            var t when t == typeof(int) || t == typeof(int?) => signed && number is >= int.MinValue and <= int.MaxValue ? (int)number : null,
            var t when t == typeof(string) => Encoding.ASCII.GetString(span),
            _ => null,
        };
        if (boxed is null)
        {
            return false;
        }

        value = (T)boxed;
        return true;
    }

    /// <summary>
    /// The error for counter text that <see cref="TryRead{T}"/> refused because <typeparamref name="T"/> cannot hold it
    /// (a counter past <see cref="int.MaxValue"/> read as <see cref="int"/>, a negative one as <see cref="ulong"/>, any
    /// as <see cref="double"/>, an integer past 64 bits as anything); <see langword="null"/> when the bytes are not a
    /// counter at all.
    /// </summary>
    public static CacheSerializationException? Unrepresentable<T>(string key, ReadOnlySpan<byte> text, bool padded)
    {
        var span = padded ? text.TrimEnd((byte)' ') : text;
        if (IsDecimalInteger(span) && !(span.Length <= 20 && ((Utf8Parser.TryParse(span, out long _, out var fits) && fits == span.Length) || (Utf8Parser.TryParse(span, out ulong _, out fits) && fits == span.Length))))
        {
            // Another client's integer past 64 bits: no counter type holds it (it is not another client's encoding either).
            return new CacheSerializationException(
                $"The value under {TaiCacheDiagnostics.DescribeKey(key)} is the integer {Encoding.ASCII.GetString(span)}, which no counter type holds (counters are 64-bit). No type reads it, byte[] and string included: TaiCache reads back only values it wrote and 64-bit counters, and another client wrote this one. Read it with that client, or replace it (SetAsync) or remove it (DeleteAsync).",
                key);
        }

        if (span.Length is 0 or > 20 || !IsDecimalInteger(span)
            || !((Utf8Parser.TryParse(span, out long _, out var used) && used == span.Length) || (Utf8Parser.TryParse(span, out ulong _, out used) && used == span.Length)))
        {
            return null;
        }

        return new CacheSerializationException(
            $"The value under {TaiCacheDiagnostics.DescribeKey(key)} is the counter {Encoding.ASCII.GetString(span)}, which {typeof(T).Name} cannot hold; read counters as long, ulong, int or string.",
            key);
    }

    /// <summary>Whether the bytes are a decimal integer of reasonable length as the servers write one: an optional minus,
    /// then 1 to 64 digits, the first not a zero unless the number is 0 ("+5", "042" and "-0" are another client's text;
    /// Redis's INCR refuses them too).</summary>
    private static bool IsDecimalInteger(ReadOnlySpan<byte> span)
    {
        var negative = span.Length > 0 && span[0] == (byte)'-';
        var digits = negative ? span[1..] : span;
        return digits.Length is > 0 and <= 64
            && digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0
            && (digits[0] != (byte)'0' || (digits.Length == 1 && !negative));
    }
}
