using System.Collections.Concurrent;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Batch read-through shares loads: concurrent <c>GetOrSetManyAsync</c> calls that overlap load each missing key once,
/// and single-key <c>GetOrSetAsync</c> callers join a batch's load of their key (and the other way round).
/// </summary>
public sealed class BatchStampedeTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    /// <summary>A gate the test opens; it opens itself after 30 s, so a failing test fails instead of hanging.</summary>
    private static TaskCompletionSource Gate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Delay(TimeSpan.FromSeconds(30)).ContinueWith(_ => gate.TrySetResult(), TaskScheduler.Default);
        return gate;
    }

    /// <summary>A batch factory that counts how often each key was asked for and waits for <paramref name="release"/>.</summary>
    private static Func<IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>> CountingFactory(ConcurrentDictionary<string, int> asked, Task release, Func<string, bool>? leaveOut = null) =>
        async (missing, _) =>
        {
            foreach (var key in missing)
            {
                asked.AddOrUpdate(key, 1, (_, n) => n + 1);
            }

            await release;
            return missing.Where(k => leaveOut?.Invoke(k) != true).ToDictionary(k => k, k => "v:" + k);
        };

    [Fact]
    public async Task GetOrSetManyAsync_50OverlappingBatchesOnRealRedis_LoadEachKeyOnce()
    {
        var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = "bst:" });
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(l2);
        await using var cache = new MultiTierCache(options);
        var keys = Enumerable.Range(0, 29).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var asked = new ConcurrentDictionary<string, int>();
        var release = Gate();
        var factory = CountingFactory(asked, release.Task);

        // Caller i asks for keys i % 10 .. i % 10 + 19: every key is wanted by several batches at once.
        var callers = Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
            await cache.GetOrSetManyAsync(keys.Skip(i % 10).Take(20), factory))).ToArray();
        await TierTestKit.Eventually(() => asked.Count == keys.Length);
        await Task.Delay(100);
        release.TrySetResult();
        var results = await Task.WhenAll(callers);

        Assert.All(keys, k => Assert.Equal(1, asked[k]));
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(keys.Skip(i % 10).Take(20).ToDictionary(k => k, k => "v:" + k), results[i]);
        }

        Assert.Equal(keys.Length, (await l2.GetManyAsync<string>(keys)).Count);
    }

    /// <summary>A cache whose only tier is a held-read memory L2, and three keys unique to the test.</summary>
    private (MultiTierCache Cache, FaultyTier L2, string[] Keys) WithoutL1()
    {
        var l2 = new FaultyTier(TierTestKit.Memory("L2"));
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l2);
        return (new MultiTierCache(options), l2, Enumerable.Range(0, 3).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray());
    }

    [Fact]
    public async Task GetOrSetManyAsync_WithoutL1_KeyLoadedBetweenItsReadAndItsClaim_IsReadAgainNotLoadedTwice()
    {
        // Batch B reads L2 (a miss) and is held there; batch A then loads and stores the keys and its flights end;
        // B claims them with no load under way. It must find A's values in L2 rather than run its factory again.
        var (cache, l2, keys) = WithoutL1();
        await using var _ = cache;
        var asked = new ConcurrentDictionary<string, int>();
        var factory = CountingFactory(asked, Task.CompletedTask);
        l2.ReadHold = Gate();

        var held = cache.GetOrSetManyAsync(keys, factory).AsTask();
        await l2.ReadHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var first = await cache.GetOrSetManyAsync(keys.Reverse(), factory);
        l2.ReadHold.TrySetResult();
        var second = await held;

        Assert.All(keys, k => Assert.Equal(1, asked[k]));
        Assert.Equal(keys.ToDictionary(k => k, k => "v:" + k), first);
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task GetOrSetManyAsync_WithoutL1_KeyASingleLoadStoredBetweenItsReadAndItsClaim_IsNotPassedToTheFactory()
    {
        var (cache, l2, keys) = WithoutL1();
        await using var _ = cache;
        var asked = new ConcurrentDictionary<string, int>();
        l2.ReadHold = Gate();

        var held = cache.GetOrSetManyAsync(keys, CountingFactory(asked, Task.CompletedTask)).AsTask();
        await l2.ReadHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("single", await cache.GetOrSetAsync(keys[0], _ => new ValueTask<string>("single")));
        l2.ReadHold.TrySetResult();
        var batch = await held;

        Assert.False(asked.ContainsKey(keys[0]));
        Assert.Equal("single", batch[keys[0]]);
        Assert.Equal("v:" + keys[2], batch[keys[2]]);
    }

    [Fact]
    public async Task GetOrSetAsync_KeyABatchIsLoading_JoinsThatLoad()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = Enumerable.Range(0, 3).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var asked = new ConcurrentDictionary<string, int>();
        var release = Gate();
        var batch = cache.GetOrSetManyAsync(keys, CountingFactory(asked, release.Task)).AsTask();
        await TierTestKit.Eventually(() => asked.Count == keys.Length);

        var singleRuns = 0;
        var single = cache.GetOrSetAsync(keys[1], _ =>
        {
            Interlocked.Increment(ref singleRuns);
            return new ValueTask<string>("single");
        }).AsTask();
        release.TrySetResult();

        Assert.Equal("v:" + keys[1], await single);
        Assert.Equal(0, singleRuns);
        Assert.Equal(3, (await batch).Count);
    }

    [Fact]
    public async Task GetOrSetAsync_KeyTheBatchLeftOut_IsLoadedByTheSingleCaller()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = Enumerable.Range(0, 3).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var asked = new ConcurrentDictionary<string, int>();
        var release = Gate();
        var batch = cache.GetOrSetManyAsync(keys, CountingFactory(asked, release.Task, leaveOut: k => k == keys[2])).AsTask();
        await TierTestKit.Eventually(() => asked.Count == keys.Length);

        var single = cache.GetOrSetAsync(keys[2], _ => new ValueTask<string>("single")).AsTask();
        release.TrySetResult();

        Assert.Equal("single", await single);
        Assert.False((await batch).ContainsKey(keys[2]));
    }

    [Fact]
    public async Task GetOrSetManyAsync_KeyASingleCallerIsLoading_IsNotPassedToTheFactory()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = Enumerable.Range(0, 3).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var release = Gate();
        var started = Gate();
        var single = cache.GetOrSetAsync(keys[0], async _ =>
        {
            started.TrySetResult();
            await release.Task;
            return "single";
        }).AsTask();
        await started.Task;

        var asked = new ConcurrentDictionary<string, int>();
        var batch = cache.GetOrSetManyAsync(keys, CountingFactory(asked, Task.CompletedTask)).AsTask();
        await TierTestKit.Eventually(() => asked.Count == 2);
        Assert.False(batch.IsCompleted); // waits for the single caller's load of keys[0]
        release.TrySetResult();

        var result = await batch;
        Assert.Equal("single", result[keys[0]]);
        Assert.Equal("v:" + keys[1], result[keys[1]]);
        Assert.False(asked.ContainsKey(keys[0]));
        Assert.Equal("single", await single);
    }

    [Fact]
    public async Task GetOrSetManyAsync_LeaderStopsWaiting_SharedLoadGoesOn_ForTheOthersAndTheTiers()
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = Enumerable.Range(0, 2).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var asked = new ConcurrentDictionary<string, int>();
        var release = Gate();
        CancellationToken factoryToken = default;
        using var leaderGivesUp = new CancellationTokenSource();
        var leader = cache.GetOrSetManyAsync<string>(keys, async (missing, ct) =>
        {
            factoryToken = ct;
            return await CountingFactory(asked, release.Task)(missing, ct);
        }, cancellationToken: leaderGivesUp.Token).AsTask();
        await TierTestKit.Eventually(() => asked.Count == keys.Length);
        var joiner = cache.GetOrSetManyAsync(keys, CountingFactory(asked, Task.CompletedTask)).AsTask();

        await leaderGivesUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        Assert.False(factoryToken.IsCancellationRequested);
        release.TrySetResult();

        Assert.Equal(2, (await joiner).Count);
        Assert.All(keys, k => Assert.Equal(1, asked[k]));
        Assert.All(keys, k => Assert.True(l1.TryGet<string>(k, out _)));
    }

    [Fact]
    public async Task GetOrSetManyAsync_SharedFactoryThrows_EveryWaitingBatchSeesIt_AndTheNextCallLoadsAgain()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = Enumerable.Range(0, 2).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var release = Gate();
        var calls = 0;
        var callers = Enumerable.Range(0, 10).Select(_ => cache.GetOrSetManyAsync<string>(keys, async (_, _) =>
        {
            Interlocked.Increment(ref calls);
            await release.Task;
            throw new InvalidOperationException("loader down");
        }).AsTask()).ToArray();
        release.TrySetResult();
        foreach (var caller in callers)
        {
            Assert.Equal("loader down", (await Assert.ThrowsAsync<InvalidOperationException>(() => caller)).Message);
        }

        Assert.Equal(1, calls);
        var again = await cache.GetOrSetManyAsync(keys, CountingFactory(new ConcurrentDictionary<string, int>(), Task.CompletedTask));
        Assert.Equal(2, again.Count);
    }

    [Fact]
    public async Task GetOrSetManyAsync_FactoryTimeout_ThrowsThenStoresTheValuesWhenTheFactoryFinishes()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var keys = Enumerable.Range(0, 3).Select(i => $"{TierTestKit.Key(this)}:{i}").ToArray();
        var asked = new ConcurrentDictionary<string, int>();
        var release = Gate();
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromSeconds(2) };
        var call = cache.GetOrSetManyAsync(keys, CountingFactory(asked, release.Task), options).AsTask();
        await TierTestKit.Eventually(() => asked.Count == keys.Length);
        Assert.False(call.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(2));
        var thrown = await Assert.ThrowsAsync<CacheTimeoutException>(() => call);
        Assert.Contains("3 keys", thrown.Message, StringComparison.Ordinal);
        release.TrySetResult();

        await TierTestKit.Eventually(() => keys.All(k => l1.TryGet<string>(k, out var v) && v == "v:" + k));
    }
}
