using System.Diagnostics;
using System.Globalization;

namespace TaiCache.Tests.Fixtures;

/// <summary>
/// A real three-primary Redis Cluster for one test class: <c>TAICACHE_REDIS_CLUSTER</c> when set, else three
/// <c>redis-server --cluster-enabled yes</c> processes on free loopback ports (bus port = port + 10000), joined with
/// <c>redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes</c>, then waited on until every node reports
/// <c>cluster_state:ok</c>. All are killed, and their temp folder removed, on dispose.
/// </summary>
public class RedisClusterFixture : IAsyncLifetime
{
    private readonly List<ServerProcess> _nodes = [];
    private string? _directory;

    /// <summary>Gets the StackExchange.Redis connection string naming every node.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>Gets the nodes' ports (empty for an external cluster).</summary>
    public IReadOnlyList<int> Ports => _nodes.Select(n => n.Port).ToList();

    /// <summary>
    /// Gets how long a node may stay silent before the others mark it failed (<c>--cluster-node-timeout</c>); with no
    /// replicas the whole cluster then refuses commands (<c>CLUSTERDOWN</c>).
    /// </summary>
    protected virtual int NodeTimeoutMilliseconds => 5000;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("TAICACHE_REDIS_CLUSTER");
        if (!string.IsNullOrWhiteSpace(external))
        {
            ConnectionString = external;
            return;
        }

        var cli = ServerProcess.Find("redis-cli") ?? throw TestEnvironment.MissingServer("redis-cli for a Redis Cluster", "TAICACHE_REDIS_CLUSTER", "redis-tools");
        _directory = Directory.CreateTempSubdirectory("taicache-cluster-").FullName;
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var port = FreePort.Next(reserveAbove: 10000);
                var node = await RedisServerFixture.StartRedisAsync(
                    port,
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", Path.Combine(_directory, $"nodes-{port}.conf"),
                    "--cluster-node-timeout", NodeTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture),
                    "--dir", _directory).ConfigureAwait(false);
                _nodes.Add(node);
            }

            string[] create = ["--cluster", "create", .. _nodes.Select(n => $"127.0.0.1:{n.Port}"), "--cluster-replicas", "0", "--cluster-yes"];
            var (code, output) = await RunAsync(cli, create, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            if (code != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed ({code}): {output}");
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            foreach (var node in _nodes)
            {
                while (true)
                {
                    var (_, info) = await RunAsync(cli, ["-p", node.Port.ToString(CultureInfo.InvariantCulture), "cluster", "info"], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                    if (info.Contains("cluster_state:ok", StringComparison.Ordinal) && info.Contains("cluster_known_nodes:3", StringComparison.Ordinal))
                    {
                        break;
                    }

                    if (DateTime.UtcNow > deadline)
                    {
                        throw new TimeoutException($"The Redis Cluster did not reach cluster_state:ok in time (node {node.Port}): {info}");
                    }

                    await Task.Delay(200).ConfigureAwait(false);
                }
            }

            ConnectionString = string.Join(',', _nodes.Select(n => $"127.0.0.1:{n.Port}")) + ",abortConnect=false";
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Kills the node on a port with SIGKILL (a primary dying), for a class that owns its cluster.</summary>
    public void Kill(int port) => _nodes.Single(n => n.Port == port).Kill();

    /// <summary>Sends a signal to the node on a port (<c>STOP</c> hangs a primary, <c>CONT</c> lets it go on), for a class that owns its cluster.</summary>
    public void Signal(int port, string signal) => _nodes.Single(n => n.Port == port).Signal(signal);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (node.IsRunning)
            {
                node.Signal("CONT"); // a node a test froze
            }

            await node.DisposeAsync().ConfigureAwait(false);
        }

        _nodes.Clear();
        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }

            _directory = null;
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} did not finish in {timeout.TotalSeconds:0} s.");
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }
}
