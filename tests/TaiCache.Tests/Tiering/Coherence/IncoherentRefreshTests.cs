using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// An eager refresh replaces the value the tiers hold (a plain SET), trusting a peer's write meanwhile to supersede it
/// through its invalidation. While the coherence cannot vouch for hearing those, the refresh must not store. The
/// instance's coherence goes silent because its Redis user loses the right to publish (ACL): its own heartbeats are
/// refused, while the cache's Redis tier (another user) still reads and writes. The class's own server (its ACL).
/// </summary>
public sealed class IncoherentRefreshTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly OwnedDisposables _owned = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _owned.DisposeAsync();

    [Fact]
    public async Task EagerRefresh_WhileTheCoherenceIsSilent_DoesNotReplaceAPeersWrite()
    {
        var user = $"coh-{Guid.NewGuid():N}";
        await using var control = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var server = control.GetServer(control.GetEndPoints()[0]);
        await server.ExecuteAsync("ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var prefix = $"irt-{Guid.NewGuid():N}:";
        var aRedis = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { Name = "redis", KeyPrefix = prefix, TimeProvider = time });
        var l1 = TierTestKit.Memory("L1", time);
        var multiplexer = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},user={user},password=pw");
        _owned.Add(multiplexer);
        var coherence = new CacheCoherence(multiplexer, l1, new CacheCoherenceOptions { Namespace = prefix, TimeProvider = time });
        await coherence.StartAsync();
        await Wait.UntilAsync(() => coherence.MessagesReceived > 0 && coherence.IsCoherent, "own heartbeat echo");
        var options = new MultiTierCacheOptions { Name = "a", Coherence = coherence, TimeProvider = time };
        options.Tiers.Add(l1);
        options.Tiers.Add(aRedis);
        var a = new MultiTierCache(options);
        _owned.Add(a);
        _owned.Add(coherence);
        await using var peer = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, TimeProvider = time });

        var key = $"k:{Guid.NewGuid():N}";
        var entry = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(10), EagerRefreshThreshold = 0.8 };
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var returned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        async ValueTask<string> Load(CancellationToken _)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                return "v1";
            }

            started.TrySetResult();
            await release.Task;
            returned.TrySetResult();
            return "refreshed, older than the peer's write";
        }

        Assert.Equal("v1", await a.GetOrSetAsync(key, Load, entry));

        await server.ExecuteAsync("ACL", "SETUSER", user, "-publish"); // its heartbeats are refused from now on
        time.Advance(TimeSpan.FromMinutes(9)); // silent after four periods; the value is in its refresh window
        Assert.False(coherence.IsCoherent);
        Assert.Equal("v1", await a.GetOrSetAsync(key, Load, entry)); // from Redis (L1 was cleared); starts the refresh
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // A peer's write whose invalidation this instance cannot be sure to hear (here: none was sent).
        await peer.SetAsync(key, "from the peer");
        release.SetResult();
        await returned.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The refresh's store follows the factory at once; give it ample time to land, had it been made.
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(25);
            Assert.Equal("from the peer", (await peer.GetAsync<string>(key)).Value);
        }
    }
}
