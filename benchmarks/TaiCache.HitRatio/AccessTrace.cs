using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;

namespace TaiCache.HitRatio;

/// <summary>A trace as dense key ids (for array-based simulators) plus each id's string key (for string-keyed caches).</summary>
internal sealed class AccessTrace
{
    private AccessTrace(int[] ids, long[] keys)
    {
        Ids = ids;
        Keys = keys;
        Names = keys.Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray();
    }

    public int[] Ids { get; }

    public long[] Keys { get; }

    public string[] Names { get; }

    /// <summary>Most accesses a trace may expand to (4 bytes each): a corrupt block count fails fast instead of filling memory.</summary>
    public const long DefaultMaxAccesses = 200_000_000;

    /// <summary>
    /// Reads a trace in the ARC paper's format: one request per line, <c>start_block num_blocks [ignored...]</c>, fields
    /// separated by any whitespace (spaces, tabs), LF or CRLF line ends, blank lines and <c>#</c> comment lines skipped.
    /// Plain text, gzip (detected by its magic bytes) or zstd (<c>.zst</c>, through the zstd CLI).
    /// </summary>
    /// <exception cref="InvalidDataException">A line is not two non-negative integers with a block count of at least 1,
    /// the trace expands to more than <paramref name="maxAccesses"/> accesses, or it has no access at all. The message
    /// names the file and line.</exception>
    public static AccessTrace Load(string path, long maxAccesses = DefaultMaxAccesses)
    {
        using var reader = Open(path, out var process);
        var dense = new Dictionary<long, int>();
        var keys = new List<long>();
        var ids = new List<int>();
        string? line;
        var lineNumber = 0L;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            var text = line.AsSpan().Trim();
            if (text.IsEmpty || text[0] == '#')
            {
                continue;
            }

            var parts = line.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length < 2
                || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                throw Bad(path, lineNumber, $"expected 'start_block num_blocks ...' (two non-negative integers), found '{Shorten(line)}'");
            }

            if (count < 1 || start > long.MaxValue - count)
            {
                throw Bad(path, lineNumber, $"block count {count} from block {start} is not a valid range (at least 1 block, within 64-bit block numbers)");
            }

            if (count > maxAccesses - ids.Count)
            {
                throw Bad(path, lineNumber, $"the trace expands to more than {maxAccesses:N0} accesses (this line adds {count:N0} blocks)");
            }

            for (var b = start; b < start + count; b++)
            {
                if (!dense.TryGetValue(b, out var id))
                {
                    id = keys.Count;
                    dense.Add(b, id);
                    keys.Add(b);
                }

                ids.Add(id);
            }
        }

        if (process is not null)
        {
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"zstd exited with {process.ExitCode} reading {path}.");
            }
        }

        if (ids.Count == 0)
        {
            throw new InvalidDataException($"{path}: no accesses (the trace is empty, or only blank and comment lines).");
        }

        return new AccessTrace(ids.ToArray(), keys.ToArray());
    }

    /// <summary>Zipf(<paramref name="skew"/>) over <paramref name="keys"/> keys, with a one-off scan of <paramref name="scan"/> never-seen keys at the middle.</summary>
    public static AccessTrace Synthetic(int keys, double skew, int requests, int scan, int seed)
    {
        var cdf = new double[keys];
        double sum = 0;
        for (var i = 0; i < keys; i++)
        {
            sum += 1 / Math.Pow(i + 1, skew);
            cdf[i] = sum;
        }

        var random = new Random(seed);
        var ids = new List<int>(requests + scan);
        for (var r = 0; r < requests; r++)
        {
            if (r == requests / 2)
            {
                for (var s = 0; s < scan; s++)
                {
                    ids.Add(keys + s);
                }
            }

            var index = Array.BinarySearch(cdf, random.NextDouble() * sum);
            ids.Add(index < 0 ? ~index : index);
        }

        return new AccessTrace(ids.ToArray(), Enumerable.Range(0, keys + scan).Select(i => (long)i).ToArray());
    }

    /// <summary>A generated trace whose ids are its keys (0 up to the largest id).</summary>
    public static AccessTrace FromIds(int[] ids) => new(ids, Enumerable.Range(0, ids.Max() + 1).Select(i => (long)i).ToArray());

    /// <summary>The keys 0..<paramref name="keys"/>-1 read in order, <paramref name="passes"/> times: a loop, where LRU misses every access once the keys exceed the cache.</summary>
    public static AccessTrace Loop(int keys, int passes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keys, 1);
        var ids = new int[keys * passes];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = i % keys;
        }

        return new AccessTrace(ids, Enumerable.Range(0, keys).Select(i => (long)i).ToArray());
    }

    /// <summary>
    /// An LRU stack model sized for a cache of <paramref name="capacity"/> entries: each request is a new key with
    /// probability <paramref name="newShare"/>, else a re-request of the key at a depth drawn uniformly from
    /// [0.9, 1.0) x capacity of the stack of recently requested distinct keys (1,000,000 requests). An LRU of that
    /// capacity holds every re-requested key; popularity is pure recency, and every reuse only just fits.
    /// </summary>
    public static AccessTrace Stack(int capacity, double newShare, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 10);
        const int requests = 1_000_000;
        const double low = 0.9, high = 1.0;
        var stack = new List<int>(2 * capacity + 1);
        var next = 0;
        var random = new Random(seed);
        var ids = new int[requests];
        for (var r = 0; r < requests; r++)
        {
            int key;
            if (stack.Count < capacity || random.NextDouble() < newShare)
            {
                key = next++;
            }
            else
            {
                var depth = (int)(capacity * (low + ((high - low) * random.NextDouble()))) - 1;
                key = stack[^(depth + 1)];
                stack.RemoveAt(stack.Count - 1 - depth);
            }

            stack.Add(key);
            if (stack.Count > 2 * capacity)
            {
                stack.RemoveAt(0);
            }

            ids[r] = key;
        }

        return new AccessTrace(ids, Enumerable.Range(0, next).Select(i => (long)i).ToArray());
    }

    /// <summary>
    /// Popularity that moves: Zipf(0.7) over 100,000 ranks, mapped onto 200,000 keys by a mapping that shifts every
    /// 150,000 requests, so each phase has a new hot set (1,500,000 requests). Recency wins here; stale counts hold on.
    /// </summary>
    public static AccessTrace Drift(int seed)
    {
        const int ranks = 100_000, keys = 200_000, phase = 150_000, requests = 1_500_000;
        var cdf = new double[ranks];
        double sum = 0;
        for (var i = 0; i < ranks; i++)
        {
            sum += 1 / Math.Pow(i + 1, 0.7);
            cdf[i] = sum;
        }

        var random = new Random(seed);
        var ids = new int[requests];
        for (var r = 0; r < requests; r++)
        {
            var index = Array.BinarySearch(cdf, random.NextDouble() * sum);
            var rank = index < 0 ? ~index : index;
            ids[r] = (int)(((rank * 31L) + ((r / phase) * 7919L)) % keys);
        }

        return new AccessTrace(ids, Enumerable.Range(0, keys).Select(i => (long)i).ToArray());
    }

    private static InvalidDataException Bad(string path, long line, string what) => new($"{path}, line {line}: {what}.");

    private static string Shorten(string line)
    {
        var printable = new string(line.Select(c => char.IsControl(c) || char.IsSurrogate(c) || c == '\uFFFD' ? '?' : c).Take(40).ToArray());
        return line.Length > 40 ? printable + "..." : printable;
    }

    private static StreamReader Open(string path, out Process? process)
    {
        process = null;
        if (!path.EndsWith(".zst", StringComparison.OrdinalIgnoreCase))
        {
            var file = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            var read = file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
            file.Position = 0;
            if (read >= 2 && magic[0] == 0x1F && magic[1] == 0x8B)
            {
                return new StreamReader(new GZipStream(file, CompressionMode.Decompress));
            }

            if (read == 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD)
            {
                file.Dispose();
                throw new InvalidDataException($"{path} is zstd-compressed: name it *.zst (read through the zstd CLI), or decompress it first: zstd -d {path}");
            }

            return new StreamReader(file);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Could not find file '{path}'.", path);
        }

        var info = new ProcessStartInfo("zstd", ["-dc", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("zstd did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Reading {path} needs the zstd CLI on PATH (apt-get install zstd), or decompress it first: zstd -d {path}", e);
        }

        return process.StandardOutput;
    }
}
