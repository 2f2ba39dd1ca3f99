using TaiCache.Memcached;

namespace TaiCache.Tests.Memcached;

/// <summary>Settings that would fail later, on the network or deep inside a call, are refused when the cache is built (or the server is named).</summary>
public sealed class MemcachedOptionsValidationTests
{
    private static MemcachedCacheOptions Options(Action<MemcachedCacheOptions> configure)
    {
        var o = new MemcachedCacheOptions();
        o.Servers.Add(new MemcachedServer("127.0.0.1", 11311));
        configure(o);
        return o;
    }

    [Fact]
    public async Task PoolTimeout_BeyondTimerRange_IsRejectedByValidate()
    {
        // SemaphoreSlim takes at most int.MaxValue ms (~24.8 days): a longer PoolTimeout passed Validate, and every call
        // that had to wait for a pooled connection threw a bare ArgumentOutOfRangeException.
        var ex = Assert.Throws<ArgumentException>(() => new MemcachedCache(Options(o => o.PoolTimeout = TimeSpan.FromDays(30))).DisposeAsync().AsTask().GetAwaiter().GetResult());
        Assert.Equal(nameof(MemcachedCacheOptions.PoolTimeout), ex.ParamName);
        Assert.Contains("PoolTimeout", ex.Message, StringComparison.Ordinal);

        // A day is still taken, as for the other timeouts.
        await new MemcachedCache(Options(o => o.PoolTimeout = TimeSpan.FromDays(1))).DisposeAsync();
    }

    [Theory]
    [InlineData("127.0.0.1:11300")]
    [InlineData("[::1]:11300")]
    [InlineData("[::1]")]
    [InlineData("cache-1:11300")]
    [InlineData("cache 1")]
    [InlineData("cache\n1")]
    public void MemcachedServer_HostThatIsNotAHost_IsRejected(string host)
    {
        // new MemcachedServer("127.0.0.1:11300") (the form Parse takes, given to the constructor) was accepted: the ":11300"
        // was dropped by the address parser (or sent to DNS), and the cache dialled port 11211 or failed on every call.
        var ex = Assert.Throws<ArgumentException>(() => new MemcachedServer(host, 11400));
        Assert.Equal("host", ex.ParamName);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("fe80::1%2")]
    [InlineData("cache-1.example.com")]
    [InlineData("localhost")]
    public void MemcachedServer_PlainHostOrAddress_IsTaken(string host)
    {
        var server = new MemcachedServer(host, 11400);
        Assert.Equal(host, server.Host);
        Assert.Equal(server.ToString(), MemcachedServer.Parse(server.ToString()).ToString());
    }

    [Theory]
    [InlineData("cache 1:11211")]
    [InlineData("[cache:1]:11211")]
    [InlineData("10.0.0.1:11211:2:")]
    public void MemcachedServer_Parse_HostThatIsNotAHost_IsAFormatError(string text) =>
        Assert.Throws<FormatException>(() => MemcachedServer.Parse(text));
}
