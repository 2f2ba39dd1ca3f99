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
}
