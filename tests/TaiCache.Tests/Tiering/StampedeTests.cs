using TaiCache.Tiering;
namespace TaiCache.Tests.Tiering;

public sealed class StampedeTests
{
    [Fact]
    public async Task GetOrSetAsync_1000ConcurrentCallers_FactoryRunsOnce()
    {
        var (cache, _, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var runs = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var callers = Enumerable.Range(0, 1000).Select(_ => Task.Run(async () => await cache.GetOrSetAsync(key, async ct =>
        {
            Interlocked.Increment(ref runs);
            await release.Task;
            return "loaded";
        }))).ToArray();
        await Task.Delay(200);
        release.SetResult();
        var values = await Task.WhenAll(callers);

        Assert.Equal(1, runs);
        Assert.All(values, v => Assert.Equal("loaded", v));
        Assert.True(l2.GetCalls <= 1, $"L2 was read {l2.GetCalls} times");
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryThrows_EveryWaiterSeesException_AndNextCallRetries()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var callers = Enumerable.Range(0, 50).Select(_ => cache.GetOrSetAsync<int>(key, async ct =>
        {
            await Task.Delay(50, ct);
            throw new InvalidOperationException("boom");
        }).AsTask()).ToArray();
        foreach (var c in callers)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => c);
        }

        Assert.Equal(9, await cache.GetOrSetAsync(key, _ => new ValueTask<int>(9)));
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryThrowsWithNoOtherWaiter_CallerGetsException_NoUnobservedTaskException()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var marker = $"unobserved-{Guid.NewGuid():N}";
        var unobserved = await TierTestKit.CountUnobservedAsync(marker, async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                var key = TierTestKit.Key(this) + i;
                var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetOrSetAsync<int>(key, async _ =>
                {
                    await Task.Yield();
                    throw new InvalidOperationException(marker);
                }).AsTask());
                Assert.Equal(marker, thrown.Message);
            }
        }); // the failed flights and loads are garbage after it: a faulted task nobody observed reports itself when finalized

        Assert.Equal(0, unobserved);
    }

    [Fact]
    public async Task GetOrSetAsync_KeyLoadingUnderAnotherType_LoadsOnItsOwn_AndHonoursTheCallersToken()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var releaseText = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseNumber = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var text = cache.GetOrSetAsync(key, async _ =>
        {
            await releaseText.Task;
            return "text";
        }).AsTask();

        // The same key as an int does not join the string's flight: its own factory runs, and its caller's token cuts
        // the wait short while that factory is still running.
        var numberRan = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var number = cache.GetOrSetAsync(key, async _ =>
        {
            Interlocked.Increment(ref numberRan);
            await releaseNumber.Task;
            return 7;
        }, cancellationToken: cts.Token).AsTask();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => number.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, Volatile.Read(ref numberRan));
        Assert.False(text.IsCompleted);

        releaseNumber.SetResult();
        releaseText.SetResult();
        Assert.Equal("text", await text);
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryTimeout_ThrowsThenStoresValueWhenFactoryFinishes()
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource();
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(100) };

        await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, async _ =>
        {
            await release.Task;
            return 5;
        }, options).AsTask());
        release.SetResult();

        await TierTestKit.Eventually(() => l1.TryGet<int>(key, out var v) && v == 5);
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryOutlivesItsTimeout_LaterCallersJoinItsLoad_NoSecondFactory()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        ValueTask<string> Factory(CancellationToken _)
        {
            Interlocked.Increment(ref calls);
            return new ValueTask<string>(release.Task);
        }

        var shortWait = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(100) };
        await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, Factory, shortWait).AsTask());
        for (var i = 0; i < 3; i++)
        {
            // Each joins the load still running and times out on its own FactoryTimeout.
            await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, Factory, shortWait).AsTask());
        }

        var patient = cache.GetOrSetAsync(key, Factory, new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromSeconds(30) }).AsTask();
        release.SetResult("load#1");

        Assert.Equal("load#1", await patient);
        Assert.Equal("load#1", await cache.GetOrSetAsync(key, Factory, shortWait));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task GetOrSetAsync_JoiningABatchLoad_IsBoundedByItsOwnFactoryTimeout()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource<IReadOnlyDictionary<string, string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var batch = cache.GetOrSetManyAsync([key], (_, _) => new ValueTask<IReadOnlyDictionary<string, string>>(release.Task)).AsTask();

        var single = cache.GetOrSetAsync(key, _ => new ValueTask<string>("own"), new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(100) }).AsTask();

        await Assert.ThrowsAsync<CacheTimeoutException>(() => single); // did not wait for the batch's factory
        release.SetResult(new Dictionary<string, string> { [key] = "batch" });
        Assert.Equal("batch", (await batch)[key]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GetOrSetAsync_FactoryThrowsATimeoutExceptionOfItsOwn_CallerGetsThatException(bool withFactoryTimeout)
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var options = new MultiTierEntryOptions { FactoryTimeout = withFactoryTimeout ? TimeSpan.FromSeconds(30) : null };

        var error = await Assert.ThrowsAsync<TimeoutException>(() => cache.GetOrSetAsync<string>(TierTestKit.Key(this), async _ =>
        {
            await Task.Yield();
            throw new TimeoutException("database timeout");
        }, options).AsTask());

        Assert.Equal("database timeout", error.Message); // not "did not finish within 30 s", not a null TimeSpan
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryFailsAfterItsTimeout_JoinersGetTheError_NextCallLoadsAgain()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(100) };
        await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, _ =>
        {
            Interlocked.Increment(ref calls);
            return new ValueTask<string>(release.Task);
        }, options).AsTask());

        var joined = cache.GetOrSetAsync(key, _ => new ValueTask<string>("never"), new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromSeconds(30) }).AsTask();
        release.SetException(new InvalidOperationException("database down"));

        Assert.Equal("database down", (await Assert.ThrowsAsync<InvalidOperationException>(() => joined)).Message);
        Assert.Equal("fresh", await cache.GetOrSetAsync(key, _ =>
        {
            Interlocked.Increment(ref calls);
            return new ValueTask<string>("fresh");
        }, options));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryTimeoutWithStaleValue_ReturnsStaleOnTime()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(1), AllowStaleOnFailure = true, FactoryTimeout = TimeSpan.FromSeconds(1) };
        await cache.SetAsync(key, "old", options);
        time.Advance(TimeSpan.FromMinutes(2));
        var release = new TaskCompletionSource();

        var pending = cache.GetOrSetAsync(key, async _ =>
        {
            await release.Task;
            return "new";
        }, options).AsTask();
        await TierTestKit.Eventually(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(200));
            return pending.IsCompleted;
        });

        Assert.Equal("old", await pending);
        release.SetResult();
        await TierTestKit.Eventually(() => cache.GetAsync<string>(key).AsTask().Result.GetValueOrDefault("") == "new");
    }

    [Fact]
    public async Task GetOrSetAsync_L1Miss_CountsOneMissInL1Metrics_NotOnePerProbe()
    {
        var metrics = new TaiCache.Metrics.MetricsCollector("stampede-metrics", "L1");
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000, Metrics = metrics });
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        options.Tiers.Add(new FaultyTier(TierTestKit.Memory("L2")));
        await using var cache = new MultiTierCache(options);
        var key = TierTestKit.Key(this);

        Assert.Equal(7, await cache.GetOrSetAsync(key, _ => new ValueTask<int>(7)));
        Assert.Equal(7, await cache.GetOrSetAsync(key, _ => new ValueTask<int>(8)));

        // One miss (the first call: its fast probe; the load's recheck of L1 is not a second read) and one hit.
        var snapshot = metrics.GetSnapshot();
        Assert.Equal(1, snapshot.Misses);
        Assert.Equal(1, snapshot.Hits);
    }
}
