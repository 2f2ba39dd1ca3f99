using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// The Redis server a benchmark run uses: <c>TAICACHE_REDIS</c> (host:port) when set, so every benchmark process of a
/// run shares one server; else a redis-server this process starts on a free loopback port and stops at the end.
/// </summary>
internal sealed class BenchRedis : IDisposable
{
    private readonly Process? _process;

    private BenchRedis(string endpoint, Process? process)
    {
        Endpoint = endpoint;
        _process = process;
    }

    public string Endpoint { get; }

    public static BenchRedis Start()
    {
        var external = Environment.GetEnvironmentVariable("TAICACHE_REDIS");
        if (!string.IsNullOrWhiteSpace(external))
        {
            return new BenchRedis(external.Split(',')[0], null);
        }

        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var psi = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        return new BenchRedis($"127.0.0.1:{port}", process);
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process?.Dispose();
    }
}
