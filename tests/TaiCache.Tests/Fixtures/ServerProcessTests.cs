using System.Diagnostics;

namespace TaiCache.Tests.Fixtures;

/// <summary>
/// The fixtures' servers are the ones the tests talk to: a port another process holds is never taken for a server this
/// run started (two test runs at once once made a test freeze one memcached and read from another).
/// </summary>
public sealed class ServerProcessTests
{
    [Fact]
    public async Task StartAsync_PortHeldByAnotherServer_FailsNamingThePort_InsteadOfTalkingToTheOtherServer()
    {
        var port = FreePort.Next();
        await using var first = await MemcachedServerFixture.StartMemcachedAsync(port);

        // A second memcached on the same port cannot bind (it exits, or would be waited for until the deadline) while the
        // first one answers the readiness check.
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => MemcachedServerFixture.StartMemcachedAsync(port).WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"Port {port} is held by another process", ex.Message, StringComparison.Ordinal);
        Assert.True(first.IsRunning);
    }

    [Fact]
    public void FreePort_ClaimsThePortForOtherProcessesToo()
    {
        var port = FreePort.Next();
        var lockFile = Path.Combine(Path.GetTempPath(), "taicache-test-ports", $"{port}.lock");

        // flock(1) from another process cannot take the lock this process holds on the port's file.
        using var other = Process.Start(new ProcessStartInfo("flock", ["--nonblock", "--exclusive", lockFile, "true"]) { UseShellExecute = false })!;
        Assert.True(other.WaitForExit(10_000));
        Assert.NotEqual(0, other.ExitCode);
    }
}
