using System.Globalization;
using TaiCache.Memcached;

namespace TaiCache.Tests.Fixtures;

/// <summary>
/// A real memcached for one test class: <c>TAICACHE_MEMCACHED</c> (<c>host:port</c>) when set, else a <c>memcached</c>
/// the fixture starts on a free loopback port (<c>-U 0</c>, no UDP) and stops after. Missing both is a failure, never a skip.
/// </summary>
public sealed class MemcachedServerFixture : IAsyncLifetime
{
    private ServerProcess? _server;

    /// <summary>Gets the server.</summary>
    public MemcachedServer Server { get; private set; } = new("127.0.0.1");

    /// <summary>Gets a value indicating whether this fixture started the server (and so may kill, restart or flush it).</summary>
    public bool OwnsServer => _server is not null;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("TAICACHE_MEMCACHED");
        if (!string.IsNullOrWhiteSpace(external))
        {
            Server = MemcachedServer.Parse(external);
            return;
        }

        _server = await StartMemcachedAsync(FreePort.Next()).ConfigureAwait(false);
        Server = new MemcachedServer("127.0.0.1", _server.Port);
    }

    /// <summary>Starts a throwaway memcached on a loopback port, with extra arguments.</summary>
    public static Task<ServerProcess> StartMemcachedAsync(int port, params string[] extra)
    {
        var binary = ServerProcess.Find("memcached") ?? throw TestEnvironment.MissingServer("memcached server", "TAICACHE_MEMCACHED", "memcached");
        List<string> args = ["-p", port.ToString(CultureInfo.InvariantCulture), "-l", "127.0.0.1", "-U", "0", "-m", "64", .. extra];
        if (string.Equals(Environment.UserName, "root", StringComparison.Ordinal))
        {
            args.AddRange(["-u", "root"]); // memcached refuses to run as root without -u
        }

        return ServerProcess.StartAsync(binary, args, port);
    }

    /// <summary>Builds options pointing at this server.</summary>
    public MemcachedCacheOptions Options(Action<MemcachedCacheOptions>? configure = null)
    {
        // Generous timeouts: the tests run on loaded shared machines; timeouts themselves are tested with a scripted server.
        var o = new MemcachedCacheOptions
        {
            OperationTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PoolTimeout = TimeSpan.FromSeconds(5),
        };
        o.Servers.Add(Server);
        configure?.Invoke(o);
        return o;
    }

    /// <summary>Kills the server (SIGKILL). Only for a server the fixture started.</summary>
    public void Kill() => (_server ?? throw new InvalidOperationException("The memcached server is external; it cannot be killed by the test.")).Kill();

    /// <summary>Starts the server again on the same port after <see cref="Kill"/>.</summary>
    public Task RestartAsync() => (_server ?? throw new InvalidOperationException("The memcached server is external.")).StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
