namespace TaiCache.Tests.Fixtures;

/// <summary>
/// A real Redis server for one test class: <c>TAICACHE_REDIS</c> when set, else a <c>redis-server</c> the fixture starts
/// on a free loopback port (no persistence) and stops after. Missing both is a failure, never a skip.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private ServerProcess? _server;

    /// <summary>Gets the StackExchange.Redis connection string.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>Gets a value indicating whether this fixture started the server (and so can kill and restart it).</summary>
    public bool OwnsServer => _server is not null;

    /// <summary>Gets the port of a server the fixture started.</summary>
    public int Port => _server?.Port ?? 0;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("TAICACHE_REDIS");
        if (!string.IsNullOrWhiteSpace(external))
        {
            ConnectionString = external;
            return;
        }

        _server = await StartRedisAsync(FreePort.Next()).ConfigureAwait(false);
        ConnectionString = $"127.0.0.1:{_server.Port},abortConnect=false";
    }

    /// <summary>Starts a throwaway redis-server on a port, with extra arguments.</summary>
    public static Task<ServerProcess> StartRedisAsync(int port, params string[] extra)
    {
        var binary = ServerProcess.Find("redis-server") ?? throw TestEnvironment.MissingServer("Redis server", "TAICACHE_REDIS", "redis-server");
        string[] args = ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no", "--protected-mode", "no", .. extra];
        return ServerProcess.StartAsync(binary, args, port);
    }

    /// <summary>Kills the server (SIGKILL), as a crash would. Only for a server the fixture started.</summary>
    public void Kill() => (_server ?? throw new InvalidOperationException("The Redis server is external; it cannot be killed by the test.")).Kill();

    /// <summary>Starts the server again on the same port after <see cref="Kill"/>.</summary>
    public Task RestartAsync() => (_server ?? throw new InvalidOperationException("The Redis server is external.")).StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
