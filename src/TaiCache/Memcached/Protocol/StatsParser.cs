using System.Buffers;
using System.Text;

namespace TaiCache.Memcached.Protocol;

/// <summary>Parses the answer to memcached's <c>stats</c> command: <c>STAT name value</c> lines, then <c>END</c>.</summary>
internal static class StatsParser
{
    /// <summary>
    /// Consumes whole lines from <paramref name="buffer"/> into <paramref name="stats"/>; true once <c>END</c> was read.
    /// A partial line is left in the buffer for the next read.
    /// </summary>
    /// <exception cref="MemcachedProtocolException">An error reply, a line that is not a statistic, or too many lines.</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, Dictionary<string, string> stats, int maxLines)
    {
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

            var parts = line.Split(' ', 3);
            if (parts.Length != 3 || parts[0] != "STAT")
            {
                throw new MemcachedProtocolException(line.StartsWith("SERVER_ERROR", StringComparison.Ordinal) || line.StartsWith("CLIENT_ERROR", StringComparison.Ordinal) || line == "ERROR"
                    ? $"memcached refused 'stats': {line}"
                    : "memcached answered 'stats' with a line that is not a statistic.");
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
}
