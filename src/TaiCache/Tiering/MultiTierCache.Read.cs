using System.Runtime.CompilerServices;
using TaiCache.Metrics;
using TaiCache.Tiering.WriteBehind;

namespace TaiCache.Tiering;

/// <summary>Reads: the L1 fast path, the walk down the lower tiers, and copying hits back up.</summary>
public sealed partial class MultiTierCache
{
    /// <inheritdoc />
    /// <remarks>
    /// Looks through the tiers in order. Under <see cref="ReadStrategy.ReadThrough"/> a lower hit is copied into the
    /// tiers above. A failing tier is skipped (fail-safe); when every tier that could hold the key failed and the
    /// default entry options allow stale values, a kept stale value is returned.
    /// </remarks>
    public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (_l1 is not null && TryGetMemory(_l1, key, out T local))
        {
            return new ValueTask<CacheResult<T>>(new CacheResult<T>(local));
        }

        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        return ReadLowerAsync<T>(key, _defaults, staleOnFailure: true, failedTiers: null, L1Mark(), cancellationToken);
    }

    /// <summary>Reads a value with per-call settings (fail-safe, TTL used for copying a lower hit upwards).</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="options">The entry settings; <see langword="null"/> for <see cref="MultiTierCacheOptions.DefaultEntryOptions"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the tiers.</param>
    /// <returns>A hit with the value, or a miss.</returns>
    public ValueTask<CacheResult<T>> GetAsync<T>(string key, MultiTierEntryOptions? options, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (_l1 is not null && TryGetMemory(_l1, key, out T local))
        {
            return new ValueTask<CacheResult<T>>(new CacheResult<T>(local));
        }

        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        return ReadLowerAsync<T>(key, Resolve(options), staleOnFailure: true, failedTiers: null, L1Mark(), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        ThrowIfDisposed();
        switch (_writeBehind?.FindUnwritten(key))
        {
            case { Operation: not WriteBehindOperation.Delete } unwritten when unwritten.HasExpired(_time.GetUtcNow()):
                return false; // its deadline has passed, though a lower tier has not taken it yet
            case { Operation: not WriteBehindOperation.Expire } unwritten:
                return unwritten.Operation != WriteBehindOperation.Delete;
        }

        foreach (var slot in _slots)
        {
            using var activity = StartTierActivity(slot, TaiCacheTelemetry.GetActivity, "exists");
            if (slot.Memory is { } memory)
            {
                var held = memory.GetRemainingTtl(key) is not null;
                TaiCacheTelemetry.SetReadResult(activity, held);
                if (held)
                {
                    return true;
                }

                continue;
            }

            if (!TryEnter(slot, out var probe))
            {
                TaiCacheTelemetry.SetError(activity, CircuitOpenError);
                continue;
            }

            try
            {
                var exists = await InvokeEnteredAsync(slot, key, static (ops, k, ct) => ops.ExistsAsync(k, ct), activity, cancellationToken, probe).ConfigureAwait(false);
                TaiCacheTelemetry.SetReadResult(activity, exists);
                if (exists)
                {
                    return true;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.TierReadFailed(_logger, Name, slot, key, e);
            }
        }

        return false;
    }

    /// <summary>
    /// Reads the tiers below L1 in order, in one async frame (this is every L2 hit's path, and each frame costs a
    /// boxed state machine per read that waits on the network). On a hit the value is copied into the tiers above
    /// (read-through). When nothing is found and a tier failed, <paramref name="failedTiers"/> (when given) receives
    /// the failed tiers' bits; otherwise, with <paramref name="staleOnFailure"/>, a kept stale value is returned. The
    /// copy into L1 is dropped when the key was written there since <paramref name="l1Mark"/>, read before this call.
    /// </summary>
    private async ValueTask<CacheResult<T>> ReadLowerAsync<T>(string key, MultiTierEntryOptions options, bool staleOnFailure, StrongBox<ulong>? failedTiers, long l1Mark, CancellationToken cancellationToken)
    {
        if (TryReadUnwritten<T>(key, out var unwritten))
        {
            if (unwritten.Status != TierReadStatus.Hit)
            {
                return CacheResult<T>.Miss;
            }

            FillMemoryTiers(key, unwritten.Value, options, l1Mark);
            return new CacheResult<T>(unwritten.Value);
        }

        ulong failed = 0;
        for (var i = _firstRemote; i < _slots.Length; i++)
        {
            var slot = _slots[i];
            TierRead<T> read;
            if (slot.Memory is not null)
            {
                read = ReadMemoryTier<T>(slot, key);
            }
            else
            {
                // The remote read inline, as ReadTierAsync does it (one frame fewer per L2 hit).
                using var activity = StartTierActivity(slot, TaiCacheTelemetry.GetActivity);
                if (!TryEnter(slot, out var probe))
                {
                    TaiCacheTelemetry.SetError(activity, CircuitOpenError);
                    read = new TierRead<T>(TierReadStatus.Failed, default!);
                }
                else
                {
                    try
                    {
                        var result = await WithTimeout(slot.Ops.GetAsync<T>(key, cancellationToken), cancellationToken).ConfigureAwait(false);
                        read = OnTierReadDone(slot, result, activity);
                    }
                    catch (Exception e)
                    {
                        if (!OnTierReadFailed(slot, key, e, activity, probe, cancellationToken, out read))
                        {
                            throw;
                        }
                    }
                }
            }

            if (read.Status == TierReadStatus.Hit)
            {
                if (_options.ReadStrategy == ReadStrategy.ReadThrough && ForCopying(options, read.ExpiresAtUnixMs) is { } copy)
                {
                    await FillUpperAsync(i, key, read.Value, copy, failed, l1Mark, cancellationToken).ConfigureAwait(false);
                }

                KeepReadForFailSafe(key, read.Value, options, l1Mark);
                return new CacheResult<T>(read.Value, read.ExpiresAtUnixMs);
            }

            if (read.Status == TierReadStatus.Failed)
            {
                failed |= TierBit(i);
            }
        }

        if (failedTiers is not null)
        {
            failedTiers.Value = failed;
        }

        return failed != 0 && staleOnFailure && TryGetStale<T>(key, options, out var stale) ? new CacheResult<T>(stale) : CacheResult<T>.Miss;
    }

    /// <summary>
    /// The options to copy a lower tier's hit upwards with: capped so no copy outlives the value where it was found (its
    /// writer recorded when it expires), or <see langword="null"/> when by this clock it already has (then it is
    /// returned but not copied; clocks of different machines may disagree by a little).
    /// </summary>
    private MultiTierEntryOptions? ForCopying(MultiTierEntryOptions options, long expiresAtUnixMs)
    {
        if (expiresAtUnixMs == 0)
        {
            return options;
        }

        var left = expiresAtUnixMs - _time.GetUtcNow().ToUnixTimeMilliseconds();
        return left <= 0 ? null : options.CappedAt(TimeSpan.FromMilliseconds(left));
    }

    /// <summary>
    /// Copies a value found in tier <paramref name="foundAt"/> into every tier above it, best effort, except the tiers
    /// in <paramref name="skipTiers"/>: those whose read just failed, so a stalled tier costs the read one timeout, not two.
    /// </summary>
    private ValueTask FillUpperAsync<T>(int foundAt, string key, T value, MultiTierEntryOptions options, ulong skipTiers, long l1Mark, CancellationToken cancellationToken)
    {
        if (foundAt <= _firstRemote)
        {
            // Only memory tiers above: a synchronous copy, no async frame.
            if (MayCopyIntoL1(foundAt))
            {
                FillMemoryTiers(key, value, options, l1Mark);
            }

            return ValueTask.CompletedTask;
        }

        return FillUpperSlowAsync(foundAt, key, value, options, skipTiers, l1Mark, cancellationToken);
    }

    /// <remarks>A copy goes only where the key holds nothing (see <see cref="YieldingWrite"/>): once a tier holds a value
    /// already (another instance wrote it since this one read the tier), the copy stops there.</remarks>
    private async ValueTask FillUpperSlowAsync<T>(int foundAt, string key, T value, MultiTierEntryOptions options, ulong skipTiers, long l1Mark, CancellationToken cancellationToken)
    {
        skipTiers |= SkippedBy(options);
        for (var j = foundAt - 1; j >= 0; j--)
        {
            if ((skipTiers & TierBit(j)) != 0)
            {
                continue;
            }

            var slot = _slots[j];
            if (slot.Memory is { } memory)
            {
                if (options.SkipMemoryWrite)
                {
                    continue;
                }

                using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity);
                if (j < _firstRemote)
                {
                    if (MayCopyIntoL1(foundAt))
                    {
                        memory.Fill(key, value, options.L1Ttl, l1Mark);
                    }
                }
                else if (CopyOutdated(key, l1Mark) || !memory.TryAdd(key, value, options.Ttl))
                {
                    return;
                }
                else if (CopyOutdated(key, l1Mark))
                {
                    memory.Remove(key); // a write began as the copy landed (see TakeBackCopyAsync)
                    return;
                }

                continue;
            }

            if (CopyOutdated(key, l1Mark) || !await TryCopyToTierAsync(slot, key, value, options.Ttl, cancellationToken).ConfigureAwait(false))
            {
                return; // a write of the key since the read (a delete it would undo), or a value the tier holds
            }

            if (CopyOutdated(key, l1Mark))
            {
                await TakeBackCopyAsync(slot, [key], cancellationToken).ConfigureAwait(false);
                return;
            }
        }
    }

    /// <summary>
    /// Removes copies that landed in a tier while a write of their keys began (checked before the copy and again after
    /// it): a delete that reached the tier before the copy would be undone by it. Removing a value the write stored
    /// since costs a miss, never a wrong value. Best effort: a failure is logged.
    /// </summary>
    private async ValueTask TakeBackCopyAsync(TierSlot slot, List<string> keys, CancellationToken cancellationToken)
    {
        using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "delete_many", keys.Count);
        try
        {
            _ = await InvokeTierAsync(slot, keys, static (ops, k, ct) => ops.DeleteManyAsync(k, ct), activity, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.TierWriteFailed(_logger, Name, slot, keys[0], e);
        }
    }

    /// <summary>Copies one value into one remote tier where the key holds nothing, logging (not throwing) a failure.</summary>
    /// <returns><see langword="false"/> when the tier held a value of its own, which the copy yielded to.</returns>
    private async ValueTask<bool> TryCopyToTierAsync<T>(TierSlot slot, string key, T value, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity);
        try
        {
            var probe = EnterOrThrow(slot, activity);
            try
            {
                var stored = await WithTimeout(YieldingWrite.StoreAsync(slot.Ops, key, value, ttl, cancellationToken), cancellationToken).ConfigureAwait(false);
                slot.Breaker?.OnSuccess();
                return stored;
            }
            catch (Exception e) when (OnTierCallFailed(slot, e, activity, cancellationToken, probe))
            {
                throw TierTimedOut(slot, e);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.TierWriteFailed(_logger, Name, slot, key, e);
            return true; // a failed copy does not keep the value from the tiers above
        }
    }

    /// <summary>
    /// Reads a memory tier. A value held there under another type is a miss, logged (event 4011), as it is in a tier
    /// below: the read goes on down (and a load replaces it); the tier used alone throws
    /// <see cref="CacheWrongTypeException"/> instead. Bad keys still throw (<see cref="MemoryRead.CheckKey"/> checks them on a miss).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryGetMemory<T>(InMemoryTier memory, string key, out T value, MemoryRead how = MemoryRead.CheckKey)
    {
        bool wrongType;
        var hit = how == MemoryRead.Recheck
            ? memory.TryGetUncounted(key, out value!, out wrongType)
            : memory.TryGetLenient(key, checkKeyOnMiss: how == MemoryRead.CheckKey, out value!, out wrongType);
        if (wrongType)
        {
            LogWrongType<T>(memory, key);
        }

        return hit;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LogWrongType<T>(InMemoryTier memory, string key) =>
        Log.UnreadableValue(_logger, Name, memory.Name, key, new CacheWrongTypeException($"The entry under {TaiCacheDiagnostics.DescribeKey(key)} holds a value of another type than {typeof(T).Name}.", key));

    /// <summary>How <see cref="TryGetMemory"/> reads: a caller's first read (checking the key on a miss), a read of a key
    /// the caller checked, or a load's recheck (its caller's miss already counted).</summary>
    private enum MemoryRead
    {
        CheckKey,
        KeyChecked,
        Recheck,
    }

    /// <summary>
    /// Under write-behind, answers a read below L1 from the write queue when the key has a write not yet on every lower
    /// tier: a queued removal is a miss, a queued value of the requested type is a hit. Otherwise the lower tiers decide.
    /// </summary>
    private bool TryReadUnwritten<T>(string key, out TierRead<T> read)
    {
        switch (_writeBehind?.FindUnwritten(key))
        {
            case null:
                break;
            case { Operation: WriteBehindOperation.Delete }:
            case { } unwritten when unwritten.HasExpired(_time.GetUtcNow()): // expired, though not yet in every tier
                read = new TierRead<T>(TierReadStatus.Miss, default!);
                return true;
            case PendingSet<T> set:
                read = new TierRead<T>(TierReadStatus.Hit, set.Value);
                return true;
        }

        read = default;
        return false;
    }
}
