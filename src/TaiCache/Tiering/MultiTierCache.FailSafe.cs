using System.Diagnostics;
using TaiCache.Metrics;

namespace TaiCache.Tiering;

/// <summary>Fail-safe: tier calls behind a circuit breaker and a timeout, and stale values kept for when everything fails.</summary>
public sealed partial class MultiTierCache
{
    /// <summary>Tells whether an exception from a tier is about the tier's health (counts for its breaker), not the data or the caller.</summary>
    internal static bool IsTierFault(Exception e) => e is not (ArgumentException or InvalidCacheKeyException or CacheSerializationException
        or CacheWrongTypeException or CacheValueTooLargeException or ObjectDisposedException);

    /// <summary>
    /// Tells whether a tier failed only for some keys (one memcached node of several down, failing its keys at once, or
    /// hung, timing them out; a Cluster primary down): neither a failure nor a success for its breaker, so a partial
    /// outage does not send every key past the tier. The node's own failure count marks it down.
    /// </summary>
    private static bool IsPartialOutage(Exception e) => PartialOutage.Is(e);

    /// <summary>Asks the tier's breaker for a call; <see langword="false"/> while its circuit is open.</summary>
    internal static bool TryEnter(TierSlot slot) => TryEnter(slot, out _);

    /// <summary>Asks the tier's breaker for a call; <paramref name="probe"/> is the half-open probe's number (else 0), for a call that ends neither way.</summary>
    internal static bool TryEnter(TierSlot slot, out long probe)
    {
        probe = 0;
        return slot.Breaker is not { } breaker || breaker.TryAcquire(out probe);
    }

    /// <summary>
    /// Calls a tier after <see cref="TryEnter(TierSlot, out long)"/> succeeded (<paramref name="probe"/> the number it gave), with the tier timeout, and tells its breaker how it went. A
    /// failure marks <paramref name="activity"/> (started by the caller, which ends it and adds any result) as an error.
    /// </summary>
    internal async ValueTask<TResult> InvokeEnteredAsync<TArg, TResult>(TierSlot slot, TArg arg, Func<ICacheOps, TArg, CancellationToken, ValueTask<TResult>> operation, Activity? activity, CancellationToken cancellationToken, long probe = 0)
    {
        try
        {
            var result = await WithTimeout(operation(slot.Ops, arg, cancellationToken), cancellationToken).ConfigureAwait(false);
            slot.Breaker?.OnSuccess();
            return result;
        }
        catch (Exception e) when (OnTierCallFailed(slot, e, activity, cancellationToken, probe))
        {
            throw TierTimedOut(slot, e);
        }
    }

    /// <summary>
    /// A tier call that was let through its breaker failed: marks the trace and tells the breaker (a cancellation the
    /// caller asked for counts neither way, a tier fault counts against it, any other error for it). Used as an
    /// exception filter, so every error but a tier timeout goes on unchanged: returns <see langword="true"/> only for a
    /// <see cref="TimeoutException"/> from <see cref="MultiTierCacheOptions.TierTimeout"/>, which the caller rethrows
    /// as <see cref="TierTimedOut"/>.
    /// </summary>
    private static bool OnTierCallFailed(TierSlot slot, Exception e, Activity? activity, CancellationToken cancellationToken, long probe = 0)
    {
        TaiCacheTelemetry.SetError(activity, e);
        var breaker = slot.Breaker;
        if ((e is OperationCanceledException && cancellationToken.IsCancellationRequested) || IsPartialOutage(e))
        {
            breaker?.OnInconclusive(probe); // neither way: a probe gives its permit back
            return false;
        }

        if (!IsTierFault(e))
        {
            breaker?.OnSuccess();
            return false;
        }

        breaker?.OnFailure();
        return e is TimeoutException;
    }

    private CacheTimeoutException TierTimedOut(TierSlot slot, Exception e) =>
        new($"Tier '{slot.Name}' of cache '{Name}' did not answer within {_options.TierTimeout}.", null, e);

    /// <summary>Asks the tier's breaker for a call; an open circuit throws <see cref="CacheConnectionException"/> (and marks <paramref name="activity"/>).</summary>
    /// <returns>The half-open probe's number when this call is the probe, else 0 (see <see cref="TryEnter(TierSlot, out long)"/>).</returns>
    private long EnterOrThrow(TierSlot slot, Activity? activity)
    {
        if (!TryEnter(slot, out var probe))
        {
            TaiCacheTelemetry.SetError(activity, CircuitOpenError);
            throw CircuitOpen(slot);
        }

        return probe;
    }

    /// <summary>Calls a tier through its breaker; an open circuit throws <see cref="CacheConnectionException"/> at once (and marks <paramref name="activity"/>).</summary>
    internal ValueTask<TResult> InvokeTierAsync<TArg, TResult>(TierSlot slot, TArg arg, Func<ICacheOps, TArg, CancellationToken, ValueTask<TResult>> operation, Activity? activity, CancellationToken cancellationToken)
    {
        if (!TryEnter(slot, out var probe))
        {
            TaiCacheTelemetry.SetError(activity, CircuitOpenError);
            return ValueTask.FromException<TResult>(CircuitOpen(slot));
        }

        return InvokeEnteredAsync(slot, arg, operation, activity, cancellationToken, probe);
    }

    /// <summary>The error type a trace shows for a tier skipped because its circuit is open.</summary>
    internal const string CircuitOpenError = "circuit_open";

    private CacheConnectionException CircuitOpen(TierSlot slot) =>
        new($"The circuit of tier '{slot.Name}' of cache '{Name}' is open after repeated failures; the tier is skipped for {_options.CircuitBreakerBreakDuration} before a probe call.");

    private ValueTask<TResult> WithTimeout<TResult>(ValueTask<TResult> task, CancellationToken cancellationToken)
    {
        if (task.IsCompleted || _options.TierTimeout is not { } timeout)
        {
            return task;
        }

        var pending = task.AsTask();
        ObserveFailure(pending);
        return new ValueTask<TResult>(pending.WaitAsync(timeout, _time, cancellationToken));
    }

    private ValueTask WithTimeout(ValueTask task, CancellationToken cancellationToken)
    {
        if (task.IsCompleted || _options.TierTimeout is not { } timeout)
        {
            return task;
        }

        var pending = task.AsTask();
        ObserveFailure(pending);
        return new ValueTask(pending.WaitAsync(timeout, _time, cancellationToken));
    }

    /// <summary>
    /// Observes a tier call's failure: when <see cref="MultiTierCacheOptions.TierTimeout"/> (or the caller's token)
    /// ends the wait first, nothing else awaits the call, and a failure it meets later (the tier disposed, the
    /// connection lost) would otherwise reach <see cref="TaskScheduler.UnobservedTaskException"/>.
    /// </summary>
    private static void ObserveFailure(Task pending) =>
        _ = pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Reads one tier: a hit, a miss, or a failure (logged, counted by the breaker, traced, never thrown).</summary>
    private async ValueTask<TierRead<T>> ReadTierAsync<T>(TierSlot slot, string key, CancellationToken cancellationToken)
    {
        if (slot.Memory is not null)
        {
            return ReadMemoryTier<T>(slot, key);
        }

        using var activity = StartTierActivity(slot, TaiCacheTelemetry.GetActivity);
        if (!TryEnter(slot, out var probe))
        {
            TaiCacheTelemetry.SetError(activity, CircuitOpenError);
            return new TierRead<T>(TierReadStatus.Failed, default!);
        }

        try
        {
            return OnTierReadDone(slot, await WithTimeout(slot.Ops.GetAsync<T>(key, cancellationToken), cancellationToken).ConfigureAwait(false), activity);
        }
        catch (Exception e)
        {
            if (!OnTierReadFailed<T>(slot, key, e, activity, probe, cancellationToken, out var failed))
            {
                throw;
            }

            return failed;
        }
    }

    /// <summary>Reads a memory tier below L1 (no breaker, nothing to wait for).</summary>
    private TierRead<T> ReadMemoryTier<T>(TierSlot slot, string key)
    {
        using var activity = StartTierActivity(slot, TaiCacheTelemetry.GetActivity);
        // With the hit's expiry, as a remote tier's: the copy above is capped at it, and eager refresh judges it.
        var hit = slot.Memory!.TryGetLenientWithExpiry<T>(key, checkKeyOnMiss: true, out var local, out var wrongType, out var expiresAt);
        if (wrongType)
        {
            LogWrongType<T>(slot.Memory, key);
        }

        TaiCacheTelemetry.SetReadResult(activity, hit);
        return hit ? new TierRead<T>(TierReadStatus.Hit, local!, 0, expiresAt) : default;
    }

    /// <summary>A remote tier answered: tells its breaker, traces hit or miss.</summary>
    private static TierRead<T> OnTierReadDone<T>(TierSlot slot, CacheResult<T> result, Activity? activity)
    {
        slot.Breaker?.OnSuccess();
        var hit = result.TryGetValue(out var value);
        TaiCacheTelemetry.SetReadResult(activity, hit);
        return hit ? new TierRead<T>(TierReadStatus.Hit, value!, 0, result.ExpiresAtUnixMs) : default;
    }

    /// <summary>
    /// A remote tier's read failed. A value it holds but cannot read is a miss (as in a single-key read of another
    /// client's bytes); any other error is a failed read, logged and counted by the breaker when it is the tier's fault.
    /// Returns <see langword="false"/> for a cancellation the caller asked for, which the caller rethrows.
    /// </summary>
    private bool OnTierReadFailed<T>(TierSlot slot, string key, Exception e, Activity? activity, long probe, CancellationToken cancellationToken, out TierRead<T> read)
    {
        TaiCacheTelemetry.SetError(activity, e);
        var breaker = slot.Breaker;
        read = default;
        if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            breaker?.OnInconclusive(probe); // neither way, as in OnTierCallFailed
            return false;
        }

        if (e is CacheSerializationException or CacheWrongTypeException)
        {
            // Read as a miss, but the value found was unreadable: worth an error on the trace.
            TaiCacheTelemetry.SetReadResult(activity, hit: false);
            breaker?.OnSuccess();
            Log.UnreadableValue(_logger, Name, slot.Name, key, e);
            return true;
        }

        if (IsPartialOutage(e))
        {
            breaker?.OnInconclusive(probe); // neither way, as in OnTierCallFailed
        }
        else if (IsTierFault(e))
        {
            breaker?.OnFailure();
        }
        else
        {
            breaker?.OnSuccess();
        }

        // A bare TimeoutException here is the TierTimeout's own wait: logged as the other paths report it, naming the tier.
        Log.TierReadFailed(_logger, Name, slot, key, e.GetType() == typeof(TimeoutException) && _options.TierTimeout is not null ? TierTimedOut(slot, e) : e);
        read = new TierRead<T>(TierReadStatus.Failed, default!);
        return true;
    }

    /// <summary>Keeps a copy of a value for fail-safe reads, when the entry allows them.</summary>
    /// <summary>Keeps a value written or read for fail-safe reads when the options allow them; else forgets an older
    /// copy of the key an earlier call kept, which must not be served in place of this newer value.</summary>
    private void KeepForFailSafe<T>(string key, T value, MultiTierEntryOptions options)
    {
        if (options.AllowStaleOnFailure)
        {
            _stale.Set(key, value, options.FailSafeMaxDuration);
        }
        else
        {
            ForgetFailSafe(key);
        }
    }

    /// <summary>
    /// Keeps a value read from a lower tier since <paramref name="l1Mark"/> as the key's fail-safe copy, unless a write
    /// of the key came since (see <see cref="CopyOutdated"/>): checked again once it is kept, so a set or delete whose
    /// own fail-safe step ran between the check and the copy does not leave the older value to be served later.
    /// </summary>
    private void KeepReadForFailSafe<T>(string key, T value, MultiTierEntryOptions options, long l1Mark)
    {
        if (!options.AllowStaleOnFailure)
        {
            ForgetFailSafe(key);
            return;
        }

        if (CopyOutdated(key, l1Mark))
        {
            return;
        }

        _stale.Set(key, value, options.FailSafeMaxDuration);
        if (CopyOutdated(key, l1Mark))
        {
            _stale.Remove(key);
        }
    }

    /// <summary>Forgets the key's fail-safe copy (nothing to do, and no lock taken, while none is kept).</summary>
    private void ForgetFailSafe(string key)
    {
        if (_stale.Count != 0)
        {
            _stale.Remove(key);
        }
    }

    /// <summary>Forgets every fail-safe copy (a peer's clear, a resynchronisation; see <see cref="OnPeerResync"/>).</summary>
    private void ForgetAllFailSafe()
    {
        if (_stale.Count != 0)
        {
            _stale.Clear();
        }
    }

    private bool TryGetStale<T>(string key, MultiTierEntryOptions options, out T value)
    {
        value = default!;
        if (!options.AllowStaleOnFailure)
        {
            return false;
        }

        try
        {
            if (_stale.TryGet<T>(key, out var stale))
            {
                value = stale;
                Log.StaleServed(_logger, Name, key);
                return true;
            }
        }
        catch (CacheWrongTypeException)
        {
            // A value kept under another type is no fallback for this read.
        }

        return false;
    }

    /// <summary>Tells the other instances (through <see cref="MultiTierCacheOptions.Coherence"/>) to drop these keys from their L1; never throws.</summary>
    internal async ValueTask PublishInvalidationAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        if (_options.Coherence is not { } coherence || keys.Count == 0)
        {
            return;
        }

        try
        {
            await coherence.PublishInvalidationAsync(keys, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.CoherencePublishFailed(_logger, Name, keys.Count, e);
        }
    }

    private enum TierReadStatus
    {
        Miss = 0,
        Hit = 1,
        Failed = 2,
    }

    /// <summary>A read's outcome; <paramref name="FailedTiers"/> has bit <c>i</c> set when tier <c>i</c> failed during it.</summary>
    private readonly record struct TierRead<T>(TierReadStatus Status, T Value, ulong FailedTiers = 0, long ExpiresAtUnixMs = 0);

    /// <summary>The bit of tier <paramref name="index"/> in a failed-tiers mask (tiers past 63 are never skipped).</summary>
    private static ulong TierBit(int index) => index < 64 ? 1UL << index : 0;
}
