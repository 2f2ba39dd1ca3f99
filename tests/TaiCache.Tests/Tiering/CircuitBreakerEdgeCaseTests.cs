using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// The breaker lets one half-open probe through at a time, whatever the calls admitted earlier do meanwhile; a probe
/// whose caller gives up hands its permit back, so the next call probes at once.
/// </summary>
public sealed class CircuitBreakerEdgeCaseTests
{
    /// <summary>A cache whose L2 circuit opens on one failure and breaks for 5 s, on the given clock.</summary>
    private static (MultiTierCache Cache, FaultyTier L2) OpensOnOneFailure(FakeTimeProvider time)
    {
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.CircuitBreakerFailureThreshold = 1;
            o.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(5);
        }, time);
        return (cache, l2);
    }

    [Fact]
    public void Breaker_ProbeThatNeverReports_HoldsTheCircuitOneBreakMore_ThenAnotherProbeGoes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var breaker = new CircuitBreaker(1, TimeSpan.FromSeconds(5), time);

        Assert.True(breaker.TryAcquire(out _));          // call A, admitted while closed, still running (cancelled later: it reports nothing)
        Assert.True(breaker.TryAcquire(out _));          // call B
        breaker.OnFailure();                        // B fails: open
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.True(breaker.TryAcquire(out _));          // the half-open probe, still running
        Assert.False(breaker.TryAcquire(out _), "a second probe was let through while the first is still out");
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(breaker.TryAcquire(out _));
        time.Advance(TimeSpan.FromSeconds(2));      // the probe never reported (its caller cancelled it): another may go
        Assert.True(breaker.TryAcquire(out _));
        Assert.False(breaker.TryAcquire(out _));
        breaker.OnSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public async Task SetAsync_CallAdmittedWhileClosed_CancelledDuringHalfOpen_NoSecondProbeReachesL2()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l2) = OpensOnOneFailure(time);
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

    [Fact]
    public void Breaker_ProbeEndedNeitherWay_GivesItsPermitBack_OnlyItsOwnNumberDoes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var breaker = new CircuitBreaker(1, TimeSpan.FromSeconds(5), time);
        Assert.True(breaker.TryAcquire(out var closedCall));
        Assert.Equal(0, closedCall); // not a probe
        breaker.OnFailure();
        time.Advance(TimeSpan.FromSeconds(6));

        Assert.True(breaker.TryAcquire(out var first));
        Assert.NotEqual(0, first);
        Assert.False(breaker.TryAcquire(out _));
        breaker.OnInconclusive(closedCall); // a call that was no probe frees nothing
        Assert.False(breaker.TryAcquire(out _));
        breaker.OnInconclusive(first); // the probe's caller gave up: the next call probes at once
        Assert.True(breaker.TryAcquire(out var second));
        Assert.NotEqual(first, second);
        breaker.OnInconclusive(first); // the first probe's number, late: the second probe keeps its permit
        Assert.False(breaker.TryAcquire(out _));
        breaker.OnSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    /// <summary>
    /// The half-open probe is a read whose caller cancels it while L2 holds it. The next read probes L2 at once (and
    /// closes the circuit, L2 being back); it used to be turned away for one more break duration, the circuit
    /// half-open with a probe nobody would report.
    /// </summary>
    [Fact]
    public async Task GetAsync_ProbeCancelledByItsCaller_TheNextReadProbesAtOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l2) = OpensOnOneFailure(time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l2.Inner.SetAsync(key, "in L2");
        l2.Down = true;
        Assert.False((await cache.GetAsync<string>(key + ":other")).HasValue); // fails in L2: the circuit opens
        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        l2.Down = false;
        time.Advance(TimeSpan.FromSeconds(6));

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.Gate = gate;
        using var cts = new CancellationTokenSource();
        var calls = l2.GetCalls;
        var probe = cache.GetAsync<string>(key, cts.Token).AsTask();
        await TierTestKit.Eventually(() => l2.GetCalls > calls); // the probe waits in L2
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => probe);
        l2.Gate = null;
        gate.SetResult();

        Assert.Equal("in L2", (await cache.GetAsync<string>(key)).Value); // read from L2 at once, no time advanced
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
    }
}
