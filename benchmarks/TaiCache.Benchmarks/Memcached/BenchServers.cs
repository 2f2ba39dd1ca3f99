using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TaiCache.Benchmarks.Memcached;

/// <summary>
/// The servers a benchmark runs against: <c>TAICACHE_MEMCACHED</c> / <c>TAICACHE_REDIS</c> (<c>host:port</c>) when set,
/// else a memcached / redis-server started on a free loopback port and killed at the end.
/// </summary>
internal sealed class BenchServers : IDisposable
{
    private readonly List<Process> _started = [];

    public string Memcached { get; private set; } = string.Empty;

    public string Redis { get; private set; } = string.Empty;

    public static BenchServers Start(bool redis)
    {
        var s = new BenchServers();
        s.Memcached = Environment.GetEnvironmentVariable("TAICACHE_MEMCACHED") ?? s.Launch("memcached", port => ["-p", port, "-l", "127.0.0.1", "-U", "0", "-m", "256", "-t", "4", .. (Environment.UserName == "root" ? new[] { "-u", "root" } : [])]);
        if (redis)
        {
            s.Redis = Environment.GetEnvironmentVariable("TAICACHE_REDIS") ?? s.Launch("redis-server", port => ["--port", port, "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no"]);
        }

        return s;
    }

    public void Dispose()
    {
        foreach (var p in _started)
        {
            try
            {
                p.Kill();
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }

            p.Dispose();
        }
    }

    private string Launch(string binary, Func<string, string[]> args)
    {
        var port = FreePort();
        var psi = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args(port.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {binary}");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _started.Add(p);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                return $"127.0.0.1:{port}";
            }
            catch (SocketException)
            {
                Thread.Sleep(25);
            }
        }

        throw new TimeoutException($"{binary} did not listen on {port}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
