using System.Net;
using System.Net.Sockets;

namespace TaiCache.Tests.Fixtures;

/// <summary>Finds TCP ports nobody listens on, on loopback.</summary>
internal static class FreePort
{
    private static readonly object Gate = new();
    private static readonly HashSet<int> Handed = [];
    private static readonly List<FileStream> Claims = [];

    /// <summary>Returns a free loopback port not handed out before in this process.</summary>
    /// <param name="reserveAbove">When set, also keeps <c>port + reserveAbove</c> free (Redis Cluster's bus port is port + 10000).</param>
    public static int Next(int reserveAbove = 0)
    {
        lock (Gate)
        {
            for (var attempt = 0; attempt < 200; attempt++)
            {
                var port = Random.Shared.Next(20000, 40000);
                if (Handed.Contains(port) || !IsFree(port) || (reserveAbove > 0 && !IsFree(port + reserveAbove))
                    || !TryClaim(port) || (reserveAbove > 0 && !TryClaim(port + reserveAbove)))
                {
                    continue;
                }

                Handed.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException("No free loopback port found.");
    }

    /// <summary>
    /// Claims the port across processes: a lock file held open (exclusively) until this process ends, so two test runs
    /// at once (two worktrees, say) never pick one port between checking it and starting a server on it.
    /// </summary>
    private static bool TryClaim(int port)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taicache-test-ports");
        try
        {
            Directory.CreateDirectory(folder);
            Claims.Add(new FileStream(Path.Combine(folder, port.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            return true;
        }
        catch (IOException)
        {
            return false; // claimed by another running process
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
