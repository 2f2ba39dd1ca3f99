using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A write-through set (and delete) handles the lower tier's breaker and timeout itself (not through the shared tier wrapper): a
/// failing tier opens the circuit, a stalled one costs one <see cref="MultiTierCacheOptions.TierTimeout"/>, and a caller's
/// cancellation counts neither way. In every failure no upper tier keeps the refused value.
/// </summary>
public sealed class WriteThroughBreakerTests
{
    [Fact]
    public async Task SetAsync_L2Down_FailsUntilTheCircuitOpens_ThenFailsWithoutCallingL2()
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 3);
        await using var scope = cache;
        l2.Down = true;
        var key = TierTestKit.Key(this);

        for (var i = 0; i < 3; i++)
        {
            var error = await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync(key + i, i).AsTask());
            Assert.IsType<CacheConnectionException>(error.InnerException);
            Assert.Contains("Injected failure", error.InnerException!.Message, StringComparison.Ordinal);
            Assert.False(l1.TryGet<int>(key + i, out _));
        }

        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        var setCalls = l2.SetCalls;
        var skipped = await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync(key + "after", 9).AsTask());

        Assert.Contains("circuit", skipped.InnerException!.Message, StringComparison.Ordinal);
        Assert.Equal(setCalls, l2.SetCalls);
        Assert.False(l1.TryGet<int>(key + "after", out _));
    }

    [Fact]
    public async Task SetAsync_L2Stalled_TierTimeout_ThrowsTierWriteExceptionWithTheTimeout_AndCountsAFailure()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(o =>
        {
            o.TierTimeout = TimeSpan.FromMilliseconds(100);
            o.CircuitBreakerFailureThreshold = 1;
        }, time);
        await using var scope = cache;
        l2.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = TierTestKit.Key(this);

        var set = cache.SetAsync(key, 1).AsTask();
        await TierTestKit.Eventually(() => l2.SetCalls == 1);
        Assert.False(set.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(150));
        var error = await Assert.ThrowsAsync<TierWriteException>(() => set);

        Assert.IsType<CacheTimeoutException>(error.InnerException);
        Assert.False(l1.TryGet<int>(key, out _));
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        l2.Gate.SetResult();
    }

    [Fact]
    public async Task SetAsync_CallerCancelsWhileL2Waits_ThrowsOperationCanceled_AndTheCircuitStaysClosed()
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 1);
        await using var scope = cache;
        l2.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = TierTestKit.Key(this);
        using var cts = new CancellationTokenSource();

        var set = cache.SetAsync(key, 1, cancellationToken: cts.Token).AsTask();
        await TierTestKit.Eventually(() => l2.SetCalls == 1);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => set);
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
        l2.Gate.SetResult();
        await cache.SetAsync(key, 2);
        Assert.Equal(2, (await l2.Inner.GetAsync<int>(key)).Value);
        Assert.True(l1.TryGet<int>(key, out var inL1) && inL1 == 2);
    }

    [Fact]
    public async Task DeleteAsync_L2Down_FailsUntilTheCircuitOpens_ThenSkipsL2_AndL1NeverKeepsTheKey()
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 2);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, 1);
        l2.Down = true;

        var first = await Assert.ThrowsAsync<TierWriteException>(() => cache.DeleteAsync(key).AsTask());
        Assert.IsType<CacheConnectionException>(first.InnerException);
        Assert.False(l1.TryGet<int>(key, out _));
        await Assert.ThrowsAsync<TierWriteException>(() => cache.DeleteAsync(key + "b").AsTask());
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));

        var calls = l2.Calls;
        var skipped = await Assert.ThrowsAsync<TierWriteException>(() => cache.DeleteAsync(key + "c").AsTask());
        Assert.Contains("circuit", skipped.InnerException!.Message, StringComparison.Ordinal);
        Assert.Equal(calls, l2.Calls);
        Assert.Equal(1, (await l2.Inner.GetAsync<int>(key)).Value); // the refused removal left L2 as it was
    }
}
