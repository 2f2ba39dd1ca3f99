using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// Write-behind over two memcached nodes, one of them killed: the flusher's batch writes the healthy node's keys (they
/// are in memcached) but the batch call fails as a partial outage. Those keys must not end as dead letters ("not
/// written") nor be missing from the flush's written count.
/// </summary>
[Collection(TimingSensitiveFaultCollection.Name)]
public sealed class WriteBehindPartialOutageTests : IAsyncLifetime
{
    private ServerProcess _healthy = null!;
    private ServerProcess _dead = null!;

    public async Task InitializeAsync()
    {
        _healthy = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
        _dead = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next());
    }

    public async Task DisposeAsync()
    {
        await _healthy.DisposeAsync();
        await _dead.DisposeAsync();
    }

    [Fact]
    public async Task WriteBehind_OneMemcachedNodeOfTwoDead_KeysTheHealthyNodeStored_AreNotDeadLettered()
    {
        var memcached = new MemcachedCache(new MemcachedCacheOptions
        {
            Servers = { new MemcachedServer("127.0.0.1", _healthy.Port), new MemcachedServer("127.0.0.1", _dead.Port) },
            OperationTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            FailoverPolicy = MemcachedFailoverPolicy.FailFast,
        });
        var options = new MultiTierCacheOptions
        {
            Name = "audit-wb-partial",
            WriteStrategy = WriteStrategy.WriteBehind,
            WriteBehind = new WriteBehindOptions { MaxAttempts = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(10), RetryMaxDelay = TimeSpan.FromMilliseconds(40) },
        };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(memcached);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 2000).Select(i => $"audit:wbpartial:{Guid.NewGuid():N}:{i}").ToList();
        var onHealthy = keys.Where(k => memcached.GetServerForKey(k).Port == _healthy.Port).Take(5).ToList();
        var onDead = keys.Where(k => memcached.GetServerForKey(k).Port == _dead.Port).Take(5).ToList();

        _dead.Kill();
        await cache.SetManyAsync(onHealthy.Concat(onDead).Select(k => KeyValuePair.Create(k, "v:" + k)));
        var flushed = await cache.FlushAsync(TimeSpan.FromSeconds(20));
        var dead = cache.DrainDeadLetters();

        // The healthy node holds every one of its keys: they were written.
        foreach (var key in onHealthy)
        {
            Assert.Equal("v:" + key, (await memcached.GetAsync<string>(key)).Value);
        }

        var deadHealthy = dead.Where(d => onHealthy.Contains(d.Key)).Select(d => d.Key).ToList();
        Assert.True(deadHealthy.Count == 0, $"{deadHealthy.Count} keys memcached holds were dead-lettered as not written (flush: written {flushed.Written}, dead {flushed.DeadLettered}): {string.Join(", ", dead.Where(d => onHealthy.Contains(d.Key)).Select(d => d.Error).Distinct())}");
        Assert.True(flushed.Written >= onHealthy.Count, $"written {flushed.Written}");
    }
}
