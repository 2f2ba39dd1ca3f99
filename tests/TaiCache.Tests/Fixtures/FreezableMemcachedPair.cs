namespace TaiCache.Tests.Fixtures;

/// <summary>
/// Two memcached servers of a test's own on free ports, one of which the test can freeze with <c>SIGSTOP</c> (a hung
/// node: connected, silent). Disposal lets the frozen one go on before stopping both.
/// </summary>
public sealed class FreezableMemcachedPair : IAsyncDisposable
{
    private FreezableMemcachedPair(ServerProcess healthy, ServerProcess frozen)
    {
        Healthy = healthy;
        Frozen = frozen;
    }

    /// <summary>Gets the server that keeps answering.</summary>
    public ServerProcess Healthy { get; }

    /// <summary>Gets the server <see cref="Freeze"/> stops.</summary>
    public ServerProcess Frozen { get; }

    /// <summary>Starts both servers.</summary>
    /// <returns>The pair.</returns>
    public static async Task<FreezableMemcachedPair> StartAsync() =>
        new(await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next()), await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next()));

    /// <summary>Freezes <see cref="Frozen"/> (<c>SIGSTOP</c>): it keeps its connections but answers nothing.</summary>
    public void Freeze() => Frozen.Signal("STOP");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Frozen.IsRunning)
            {
                Frozen.Signal("CONT");
            }
        }
        finally
        {
            await Frozen.DisposeAsync();
            await Healthy.DisposeAsync();
        }
    }
}
