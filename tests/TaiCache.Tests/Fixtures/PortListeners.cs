using System.Globalization;

namespace TaiCache.Tests.Fixtures;

/// <summary>Which process listens on a loopback TCP port, from Linux's <c>/proc</c>.</summary>
internal static class PortListeners
{
    /// <summary>Tells whether the process holds a listening socket on the port.</summary>
    /// <returns><see langword="null"/> where <c>/proc</c> cannot tell (another OS, or no listener on the port shown).</returns>
    public static bool? OwnedBy(int pid, int port)
    {
        var inodes = ListeningInodes(port);
        if (inodes.Count == 0)
        {
            return null;
        }

        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal)
                    && inodes.Contains(target["socket:[".Length..^1]))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the process is starting or exiting (its descriptors come and go): not listening yet
        }

        return false;
    }

    /// <summary>Tells whether any process listens on the port (as far as <c>/proc</c> shows).</summary>
    public static bool IsListenedOn(int port) => ListeningInodes(port).Count > 0;

    /// <summary>The inodes of the sockets listening on the port (IPv4 and IPv6).</summary>
    private static HashSet<string> ListeningInodes(int port)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        var hexPort = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[1].EndsWith(hexPort, StringComparison.Ordinal) && fields[3] == "0A")
                {
                    inodes.Add(fields[9]);
                }
            }
        }

        return inodes;
    }
}
