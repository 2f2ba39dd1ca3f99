using System.Net;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Memcached.Protocol;

namespace TaiCache.Tests.Memcached;

/// <summary>
/// A connection's operation timeout runs on the configured <see cref="TimeProvider"/>. Disarming it after an answer
/// used <c>CancellationTokenSource.TryReset</c>, which fails for any provider but the system's: every connection then
/// looked broken after its first operation and was never pooled.
/// </summary>
public sealed class MemcachedConnectionClockTests
{
    [Fact]
    public async Task UnderAFakeClock_AnAnsweredOperation_LeavesTheConnectionUsable_AndTheTimeoutStillFires()
    {
        await using var server = new FakeMemcachedServer();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var connection = await MemcachedConnection.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port), TimeSpan.FromSeconds(1), clock, 1 << 20, CancellationToken.None);

        for (var i = 0; i < 2; i++)
        {
            var token = connection.Begin(TimeSpan.FromSeconds(2), CancellationToken.None, out var registration);
            MetaRequestWriter.WriteNoOp(connection.Request);
            await connection.SendAsync(token);
            var response = await connection.ReadAsync(token).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            connection.End(registration);
            Assert.Equal(MetaResponseCode.NoOp, response.Code);
            Assert.False(connection.IsBroken);
        }

        // The disarmed timeout of the last operation must not fire later.
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(connection.IsUsableWhileIdle());

        // A timeout that does fire still breaks the connection.
        server.Hang = true;
        var hung = connection.Begin(TimeSpan.FromSeconds(2), CancellationToken.None, out var hungRegistration);
        MetaRequestWriter.WriteNoOp(connection.Request);
        await connection.SendAsync(hung);
        var read = connection.ReadAsync(hung).AsTask();
        clock.Advance(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(10)));
        connection.End(hungRegistration);
        Assert.True(connection.IsBroken);
    }
}
