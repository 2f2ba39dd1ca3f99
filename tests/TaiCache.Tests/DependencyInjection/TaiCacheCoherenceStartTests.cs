using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using TaiCache.DependencyInjection;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>A registered cache with coherence on, when Redis does not answer at start: nothing waits for it, and coherence starts once it does.</summary>
public sealed class TaiCacheCoherenceStartTests
{
    [Fact]
    public async Task WithCoherence_RedisSilent_ResolvingTheCacheDoesNotWaitForTheConnection()
    {
        // A listener that takes connections and never answers: the Redis handshake hangs until the connect timeout.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var services = new ServiceCollection();
        services.AddTaiCache("coherent", options =>
        {
            options.Redis.ConnectionString = $"127.0.0.1:{port}";
            options.Redis.OperationTimeout = TimeSpan.FromSeconds(20);
        }).WithCoherence($"di-start-{Guid.NewGuid():N}");
        var provider = services.BuildServiceProvider();

        var cache = provider.GetRequiredService<ITaiCacheProvider>().GetCache("coherent");

        // Had the cache been built over a connection opened on the spot, the 20 s attempt would be over by now.
        var redis = Assert.IsType<RedisCache>(cache.Tiers[1]);
        var still = Assert.Throws<InvalidOperationException>(() => redis.Multiplexer);
        Assert.Contains("first connection attempt", still.Message, StringComparison.Ordinal);
        await provider.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task WithCoherence_RedisStartsAfterTheCache_CoherenceStartsOnceItAnswers_FromAnEmptyL1()
    {
        var port = FreePort.Next();
        var services = new ServiceCollection();
        services.AddTaiCache("late", options =>
        {
            options.Redis.ConnectionString = $"127.0.0.1:{port},connectRetry=1";
            options.Redis.OperationTimeout = TimeSpan.FromSeconds(2);
        }).WithCoherence($"di-late-{Guid.NewGuid():N}");
        await using var provider = services.BuildServiceProvider();
        var caches = provider.GetRequiredService<ITaiCacheProvider>();
        var l1 = Assert.IsType<InMemoryTier>(caches.GetCache("late").Tiers[0]);
        l1.Set("kept-while-nothing-listened", 1); // as a factory value or a copy from SQLite would be

        // Nothing listens yet: the first start fails, and is retried.
        using var shortWait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await caches.GetCoherenceAsync("late", shortWait.Token));

        await using var server = await RedisServerFixture.StartRedisAsync(port);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var coherence = await caches.GetCoherenceAsync("late", timeout.Token);
        Assert.NotNull(coherence);
        while (!coherence!.IsCoherent)
        {
            await Task.Delay(50, timeout.Token);
        }

        Assert.True(coherence.IsCoherent);
        Assert.False(l1.TryGet<int>("kept-while-nothing-listened", out _)); // peers' writes meanwhile went unheard
    }
}
