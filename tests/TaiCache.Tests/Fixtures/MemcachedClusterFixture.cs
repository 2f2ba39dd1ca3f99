using TaiCache.Memcached;

namespace TaiCache.Tests.Fixtures;

/// <summary>Three memcached processes on loopback for multi-node tests, each killable and restartable on its own port.</summary>
public sealed class MemcachedClusterFixture : IAsyncLifetime
{
    private readonly List<ServerProcess> _servers = [];

    /// <summary>Gets the servers, in start order.</summary>
    public IReadOnlyList<MemcachedServer> Servers => _servers.Select(s => new MemcachedServer("127.0.0.1", s.Port)).ToList();

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _servers.Add(await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next()).ConfigureAwait(false));
        }
    }

    /// <summary>Builds options over the three nodes.</summary>
    public MemcachedCacheOptions Options(Action<MemcachedCacheOptions>? configure = null)
    {
        // Generous timeouts: the tests run on loaded shared machines; timeouts themselves are tested with a scripted server.
        var o = new MemcachedCacheOptions
        {
            OperationTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PoolTimeout = TimeSpan.FromSeconds(5),
        };
        foreach (var s in Servers)
        {
            o.Servers.Add(s);
        }

        configure?.Invoke(o);
        return o;
    }

    /// <summary>Kills node <paramref name="index"/> (SIGKILL).</summary>
    public void Kill(int index) => _servers[index].Kill();

    /// <summary>Restarts node <paramref name="index"/> on its port.</summary>
    public Task RestartAsync(int index) => _servers[index].StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var s in _servers)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }
    }
}
