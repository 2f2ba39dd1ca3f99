using System.Buffers;
using System.Text;

namespace TaiCache.Memcached.Protocol;

/// <summary>Parses the answer to memcached's <c>stats</c> command: <c>STAT name value</c> lines, then <c>END</c>.</summary>
internal static class StatsParser
{
    /// <summary>
    /// Consumes whole lines from <paramref name="buffer"/> into <paramref name="stats"/>; true once <c>END</c> was read,
    /// or an error line (<c>ERROR</c>, <c>CLIENT_ERROR</c>, <c>SERVER_ERROR</c>) that refuses the request, which is then in
    /// <paramref name="refusal"/> (its code <see cref="MetaResponseCode.None"/> otherwise). A partial line is left in the
    /// buffer for the next read.
    /// </summary>
    /// <exception cref="MemcachedProtocolException">A line that is neither a statistic nor an error line, or too many lines.</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, Dictionary<string, string> stats, int maxLines, out MetaResponse refusal)
    {
        refusal = default;
        var reader = new SequenceReader<byte>(buffer);
        while (reader.TryReadTo(out ReadOnlySequence<byte> lineSeq, (byte)'\n', advancePastDelimiter: true))
        {
            if (lineSeq.Length > MetaParser.MaxLineBytes)
            {
                throw new MemcachedProtocolException($"A response line is longer than {MetaParser.MaxLineBytes} bytes.");
            }

            var line = Encoding.ASCII.GetString(lineSeq);
            if (!line.EndsWith('\r'))
            {
                throw new MemcachedProtocolException("A response line does not end with CRLF.");
            }

            line = line[..^1];
            buffer = buffer.Slice(reader.Position);
            if (line == "END")
            {
                return true;
            }

            if (stats.Count == 0 && ErrorCode(line) is { } code)
            {
                // A refusal in step with the request (one line instead of the statistics): the server's answer, not garbage.
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                var message = space < 0 ? string.Empty : line[(space + 1)..].Trim();
                refusal = new MetaResponse { Code = code, Opaque = -1, ErrorMessage = Printable(message.Length > 200 ? message[..200] : message) };
                return true;
            }

            var parts = line.Split(' ', 3);
            if (parts.Length != 3 || parts[0] != "STAT")
            {
                throw new MemcachedProtocolException("memcached answered 'stats' with a line that is not a statistic.");
            }

            if (stats.Count >= maxLines)
            {
                throw new MemcachedProtocolException($"memcached answered 'stats' with more than {maxLines} lines.");
            }

            stats[parts[1]] = parts[2];
        }

        if (buffer.Length > MetaParser.MaxLineBytes)
        {
            throw new MemcachedProtocolException($"A response line is longer than {MetaParser.MaxLineBytes} bytes.");
        }

        return false;
    }

    private static MetaResponseCode? ErrorCode(string line)
    {
        var word = line.Split(' ', 2)[0];
        return word switch
        {
            "ERROR" => MetaResponseCode.Error,
            "CLIENT_ERROR" => MetaResponseCode.ClientError,
            "SERVER_ERROR" => MetaResponseCode.ServerError,
            _ => null,
        };
    }

    private static string Printable(string text) => string.Create(text.Length, text, static (span, s) =>
    {
        for (var i = 0; i < s.Length; i++)
        {
            span[i] = s[i] is >= ' ' and <= '~' ? s[i] : '?';
        }
    });
}
