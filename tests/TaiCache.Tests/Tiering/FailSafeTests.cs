using TaiCache.Tiering;
using Microsoft.Extensions.Time.Testing;

namespace TaiCache.Tests.Tiering;

public sealed class FailSafeTests
{
    [Fact]
    public async Task GetAsync_L2Down_ServedFromL3AndCopiedToL1()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, "from-l3");
        l2.Down = true;
        Assert.Equal("from-l3", (await cache.GetAsync<string>(key)).Value);
        Assert.True(l1.TryGet<string>(key, out _));
    }

    [Fact]
    public async Task GetOrSetAsync_AllLowerTiersAndFactoryFail_ServesStaleValue()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(10), AllowStaleOnFailure = true };
        await cache.SetAsync(key, "v1", options);
        time.Advance(TimeSpan.FromSeconds(11));
        l2.Down = true;

        var value = await cache.GetOrSetAsync<string>(key, _ => throw new InvalidOperationException("db down"), options);
        Assert.Equal("v1", value);
        Assert.Equal("v1", (await cache.GetAsync<string>(key, options)).Value);
    }

    [Fact]
    public async Task GetOrSetManyAsync_L2DownAndFactoryFails_ServesStaleValues()
    {
        // The batch read put the stale values in its results when L2 failed, and the factory's failure then found
        // no stale value left to add, so it threw where the single-key call served the stale value.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(10), AllowStaleOnFailure = true };
        await cache.SetAsync(key, "v1", options);
        time.Advance(TimeSpan.FromSeconds(11));
        l2.Down = true;

        var values = await cache.GetOrSetManyAsync<string>([key], static (_, _) => throw new InvalidOperationException("db down"), options);

        Assert.Equal("v1", values[key]);
    }

    [Fact]
    public async Task SetManyAsync_WriteBehind_L2DownAfterTtl_ServesStaleValues_AsSetAsyncDoes()
    {
        // A write-behind SetManyAsync kept no fail-safe copies, where SetAsync of the same values did.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(
            o =>
            {
                o.WriteStrategy = WriteStrategy.WriteBehind;
                o.DefaultEntryOptions = new MultiTierEntryOptions { AllowStaleOnFailure = true };
            },
            time);
        await using var scope = cache;
        var single = TierTestKit.Key(this) + ":single";
        var batch = TierTestKit.Key(this) + ":batch";
        await cache.SetAsync(single, "s1", TimeSpan.FromSeconds(10));
        await cache.SetManyAsync([KeyValuePair.Create(batch, "b1")], TimeSpan.FromSeconds(10));
        await cache.FlushAsync();
        time.Advance(TimeSpan.FromSeconds(11));
        l2.Down = true;

        Assert.Equal("s1", await cache.GetOrSetAsync<string>(single, _ => throw new InvalidOperationException("db down")));
        Assert.Equal("b1", await cache.GetOrSetAsync<string>(batch, _ => throw new InvalidOperationException("db down")));
    }

    [Fact]
    public async Task GetAsync_StaleNotAllowed_L2Down_ReturnsMiss()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v1", TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(11));
        l2.Down = true;
        Assert.False((await cache.GetAsync<string>(key)).HasValue);
    }

    [Fact]
    public async Task CircuitBreaker_OpensAfterThreshold_SkipsTier_HalfOpensAfterBreak_ClosesOnSuccess()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.CircuitBreakerFailureThreshold = 3;
            o.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(30);
        }, time);
        await using var scope = cache;
        l2.Down = true;
        for (var i = 0; i < 3; i++)
        {
            Assert.False((await cache.GetAsync<int>(TierTestKit.Key(this) + i)).HasValue);
        }

        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        var callsWhenOpened = l2.Calls;
        for (var i = 0; i < 100; i++)
        {
            await cache.GetAsync<int>(TierTestKit.Key(this));
        }

        Assert.Equal(callsWhenOpened, l2.Calls);
        await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync("k", 1).AsTask());
        Assert.Equal(callsWhenOpened, l2.Calls);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(CircuitState.HalfOpen, cache.GetCircuitState(1));
        await cache.GetAsync<int>(TierTestKit.Key(this));
        Assert.Equal(callsWhenOpened + 1, l2.Calls);
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));

        l2.Down = false;
        time.Advance(TimeSpan.FromSeconds(31));
        await cache.GetAsync<int>(TierTestKit.Key(this));
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
        await cache.SetAsync("k2", 2);
        Assert.Equal(2, (await l2.Inner.GetAsync<int>("k2")).Value);
    }

    [Fact]
    public async Task SlowL2_ValueFoundInL3_IsNotCopiedIntoL2_SoTheReadWaitsOneTimeoutNotTwo_SingleAndBatch()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(o => o.TierTimeout = TimeSpan.FromMilliseconds(100), withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, 3);
        await l3.Inner.SetAsync(key + ":batch", 4);
        l2.Delay = TimeSpan.FromSeconds(5);

        Assert.Equal(3, (await cache.GetAsync<int>(key)).Value);
        Assert.Equal(4, (await cache.GetManyAsync<int>([key + ":batch"]))[key + ":batch"]);

        Assert.Equal(0, l2.SetCalls + l2.SetManyCalls); // the stalled tier was not written, so not waited for a second time
        Assert.True(l1.TryGet<int>(key, out _)); // the tiers that answered still get their copy
        Assert.True(l1.TryGet<int>(key + ":batch", out _));
    }

    [Fact]
    public async Task GetAsync_TierCallAbandonedByTierTimeout_FailsLater_IsNotAnUnobservedTaskException()
    {
        var marker = $"abandoned-{Guid.NewGuid():N}";
        var unobserved = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            if (e.Exception.Flatten().InnerExceptions.Any(x => x.Message.Contains(marker, StringComparison.Ordinal)))
            {
                unobserved.Enqueue(e.Exception);
            }
        }

        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await AbandonAFailingTierCallAsync(marker);
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50);
            }

            Assert.Empty(unobserved);
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
    }

    /// <summary>A read whose L2 call outlives TierTimeout (a miss for the caller), the call then failing with <paramref name="marker"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task AbandonAFailingTierCallAsync(string marker)
    {
        var (cache, _, l2, _) = TierTestKit.Build(o => o.TierTimeout = TimeSpan.FromMilliseconds(100));
        await using var scope = cache;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.Gate = release;
        var read = await cache.GetAsync<string>($"unobserved:{Guid.NewGuid():N}");
        Assert.False(read.HasValue); // L2 timed out: a miss
        release.SetException(new CacheConnectionException(marker)); // the abandoned call fails now
        await Task.Delay(100);
    }

    [Fact]
    public async Task GetAsync_SlowL2_TierTimeoutServesFromL3()
    {
        var (cache, _, l2, l3) = TierTestKit.Build(o => o.TierTimeout = TimeSpan.FromMilliseconds(100), withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, 3);
        l2.Delay = TimeSpan.FromSeconds(5);
        var started = DateTime.UtcNow;
        Assert.Equal(3, (await cache.GetAsync<int>(key)).Value);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task GetOrSetAsync_L2FailsHalfItsCalls_1000Callers_FactoryRunsOnce()
    {
        var (cache, _, l2, _) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 0);
        await using var scope = cache;
        l2.FailWhen = n => n % 2 == 0;
        for (var round = 0; round < 4; round++)
        {
            var key = TierTestKit.Key(this) + round;
            var runs = 0;
            var callers = Enumerable.Range(0, 1000).Select(_ => Task.Run(async () => await cache.GetOrSetAsync(key, async ct =>
            {
                Interlocked.Increment(ref runs);
                await Task.Delay(20, ct);
                return round;
            }))).ToArray();
            var values = await Task.WhenAll(callers);
            Assert.Equal(1, runs);
            Assert.All(values, v => Assert.Equal(round, v));
        }
    }
}
