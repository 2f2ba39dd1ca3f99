using System.Diagnostics;
using System.Globalization;

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

    public static AccessTrace Load(string path)
    {
        using var reader = Open(path, out var process);
        var dense = new Dictionary<long, int>();
        var keys = new List<long>();
        var ids = new List<int>();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2)
            {
                continue;
            }

            var start = long.Parse(parts[0], CultureInfo.InvariantCulture);
            var count = long.Parse(parts[1], CultureInfo.InvariantCulture);
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

    private static StreamReader Open(string path, out Process? process)
    {
        process = null;
        if (!path.EndsWith(".zst", StringComparison.OrdinalIgnoreCase))
        {
            return new StreamReader(path);
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
