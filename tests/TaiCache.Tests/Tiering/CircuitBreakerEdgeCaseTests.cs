using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>The breaker lets one half-open probe through at a time, whatever the calls admitted earlier do meanwhile.</summary>
public sealed class CircuitBreakerEdgeCaseTests
{
    [Fact]
    public void Breaker_ProbeThatNeverReports_HoldsTheCircuitOneBreakMore_ThenAnotherProbeGoes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var breaker = new CircuitBreaker(1, TimeSpan.FromSeconds(5), time);

        Assert.True(breaker.TryAcquire());          // call A, admitted while closed, still running (cancelled later: it reports nothing)
        Assert.True(breaker.TryAcquire());          // call B
        breaker.OnFailure();                        // B fails: open
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.True(breaker.TryAcquire());          // the half-open probe, still running
        Assert.False(breaker.TryAcquire(), "a second probe was let through while the first is still out");
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(breaker.TryAcquire());
        time.Advance(TimeSpan.FromSeconds(2));      // the probe never reported (its caller cancelled it): another may go
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());
        breaker.OnSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public async Task SetAsync_CallAdmittedWhileClosed_CancelledDuringHalfOpen_NoSecondProbeReachesL2()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.CircuitBreakerFailureThreshold = 1;
            o.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(5);
        }, time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.Gate = gate;
        l2.GateWhen = k => k == key + "a" || k == key + "probe";
        using var cts = new CancellationTokenSource();

        // A: admitted while the circuit is closed, held in L2.
        var a = cache.SetAsync(key + "a", 1, cancellationToken: cts.Token).AsTask();
        await TierTestKit.Eventually(() => l2.SetCalls == 1);

        // B fails: the circuit opens.
        l2.Down = true;
        await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync(key + "b", 2).AsTask());
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));

        // The break passes: one probe goes through and is held in L2.
        time.Advance(TimeSpan.FromSeconds(6));
        var probe = cache.SetAsync(key + "probe", 3).AsTask();
        await TierTestKit.Eventually(() => l2.SetCalls == 3);

        // A's caller gives up.
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a);

        // While the probe is still out, another call must be skipped, not sent to L2 as a second probe.
        var callsBefore = l2.SetCalls;
        var second = await Assert.ThrowsAsync<TierWriteException>(() => cache.SetAsync(key + "d", 4).AsTask());
        var secondReachedL2 = l2.SetCalls != callsBefore;

        gate.SetResult();
        await Assert.ThrowsAsync<TierWriteException>(() => probe);
        Assert.False(secondReachedL2, $"a second half-open probe reached L2: {second.InnerException?.Message}");
        Assert.Contains("circuit", second.InnerException!.Message, StringComparison.Ordinal);
    }
}
