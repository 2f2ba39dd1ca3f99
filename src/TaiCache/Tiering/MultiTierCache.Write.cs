using TaiCache.Metrics;

namespace TaiCache.Tiering;

/// <summary>Writes: write-through down the tiers (lowest first), deletes and expiry.</summary>
public sealed partial class MultiTierCache
{
    /// <inheritdoc />
    /// <remarks>
    /// Under <see cref="WriteStrategy.WriteThrough"/> returns after every tier has the value (lowest tier first; a
    /// refusal throws <see cref="TierWriteException"/> and removes the key from the memory tiers above). Under
    /// <see cref="WriteStrategy.WriteBehind"/> returns once L1 has it and the write is queued (and journaled).
    /// </remarks>
    public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(ttl);
        return SetCoreAsync(key, value, ForTtl(ttl), cancellationToken);
    }

    /// <summary>Stores a value with per-call settings. See <see cref="SetAsync{T}(string, T, TimeSpan?, CancellationToken)"/>.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value; <see langword="null"/> is stored as a value.</param>
    /// <param name="options">The entry settings; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the write strategy's promise is kept.</returns>
    public ValueTask SetAsync<T>(string key, T value, MultiTierEntryOptions? options, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        options?.Validate();
        return SetCoreAsync(key, value, Resolve(options), cancellationToken);
    }

    private ValueTask SetCoreAsync<T>(string key, T value, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (_writeBehind is not null)
        {
            var queued = _writeBehind.EnqueueSetAsync(key, value, options, cancellationToken);
            if (!options.AllowStaleOnFailure)
            {
                return queued;
            }

            if (queued.IsCompletedSuccessfully)
            {
                KeepForFailSafe(key, value, options);
                return default;
            }

            return KeepAfterQueuedAsync(queued, key, value, options);
        }

        return WriteThroughSetAsync(key, value, options, cancellationToken);
    }

    private async ValueTask KeepAfterQueuedAsync<T>(ValueTask queued, string key, T value, MultiTierEntryOptions options)
    {
        await queued.ConfigureAwait(false);
        KeepForFailSafe(key, value, options);
    }

    internal ValueTask WriteThroughSetAsync<T>(string key, T value, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        var written = WriteDownAsync(key, value, options, _options.BestEffortWrites, skipTiers: 0, cancellationToken);

        // Nothing to do after the write (no fail-safe copy, no peers to tell): no second async frame for the set.
        return _options.Coherence is null && !options.AllowStaleOnFailure ? written : AfterWriteThroughAsync(written, key, value, options, cancellationToken);
    }

    private async ValueTask AfterWriteThroughAsync<T>(ValueTask written, string key, T value, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        await written.ConfigureAwait(false);
        KeepForFailSafe(key, value, options);
        await PublishInvalidationAsync([key], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a value to every tier, lowest first. A refusal (unless best effort) removes the key from the memory tiers above and throws.</summary>
    private async ValueTask WriteDownAsync<T>(string key, T value, MultiTierEntryOptions options, bool bestEffort, ulong skipTiers, CancellationToken cancellationToken)
    {
        for (var i = _slots.Length - 1; i >= 0; i--)
        {
            var slot = _slots[i];
            if ((skipTiers & TierBit(i)) != 0)
            {
                continue;
            }

            using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity);
            if (slot.Memory is { } memory)
            {
                memory.Set(key, value, i == 0 ? options.L1Ttl : options.Ttl);
                continue;
            }

            try
            {
                // The breaker and timeout inline, as SetTierAsync does them, so a set runs in this frame and the tier's. From
                // 50 tasks through Redis alone (--write-throughput), three frames more ran at 0.75-0.77x raw SET; 0.86-0.91x now.
                EnterOrThrow(slot, activity);

                try
                {
                    await WithTimeout(slot.Ops.SetAsync(key, value, options.Ttl, cancellationToken), cancellationToken).ConfigureAwait(false);
                    slot.Breaker?.OnSuccess();
                }
                catch (Exception e) when (OnTierCallFailed(slot, e, activity, cancellationToken))
                {
                    throw TierTimedOut(slot, e);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.TierWriteFailed(_logger, Name, slot.Name, key, e);
                if (!bestEffort)
                {
                    RemoveFromMemoryTiersAbove(i, key);
                    throw new TierWriteException($"Tier '{slot.Name}' (L{i + 1}) of cache '{Name}' refused the write of {TaiCacheDiagnostics.DescribeKey(key)}; no tier above it holds the new value.", key, slot.Name, i, e);
                }
            }
        }
    }

    private void RemoveFromMemoryTiersAbove(int index, string key)
    {
        for (var j = index - 1; j >= 0; j--)
        {
            _slots[j].Memory?.Remove(key);
        }

        ForgetFailSafe(key);
    }

    internal void SetMemoryTiers<T>(string key, T value, MultiTierEntryOptions options)
    {
        for (var i = 0; i < _firstRemote; i++)
        {
            _slots[i].Memory!.Set(key, value, options.L1Ttl);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Write-through: removes the key from every tier, lowest first, and returns whether any tier held it. Write-behind:
    /// removes it from L1 at once, queues the removal for the lower tiers, and returns whether L1 held it.
    /// </remarks>
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        ThrowIfDisposed();
        ForgetFailSafe(key);
        return _writeBehind is not null ? _writeBehind.EnqueueDeleteAsync(key, cancellationToken) : WriteThroughDeleteAsync(key, cancellationToken);
    }

    internal async ValueTask<bool> WriteThroughDeleteAsync(string key, CancellationToken cancellationToken)
    {
        var removed = false;
        for (var i = _slots.Length - 1; i >= 0; i--)
        {
            var slot = _slots[i];
            using var activity = StartTierActivity(slot, TaiCacheTelemetry.InvalidateActivity, "delete");
            if (slot.Memory is { } memory)
            {
                removed |= memory.Remove(key);
                continue;
            }

            try
            {
                // The breaker and timeout inline, as for a set (WriteDownAsync): one frame for the whole removal.
                EnterOrThrow(slot, activity);

                try
                {
                    removed |= await WithTimeout(slot.Ops.DeleteAsync(key, cancellationToken), cancellationToken).ConfigureAwait(false);
                    slot.Breaker?.OnSuccess();
                }
                catch (Exception e) when (OnTierCallFailed(slot, e, activity, cancellationToken))
                {
                    throw TierTimedOut(slot, e);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.TierWriteFailed(_logger, Name, slot.Name, key, e);
                if (!_options.BestEffortWrites)
                {
                    RemoveFromMemoryTiersAbove(i, key);
                    throw new TierWriteException($"Tier '{slot.Name}' (L{i + 1}) of cache '{Name}' refused the removal of {TaiCacheDiagnostics.DescribeKey(key)}.", key, slot.Name, i, e);
                }
            }
        }

        if (_options.Coherence is not null)
        {
            await PublishInvalidationAsync([key], cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    /// <inheritdoc />
    /// <remarks>Sets the new expiry in every tier (lowest first); under write-behind a queued value of the key takes the new TTL too.
    /// Returns whether any tier held the key.</remarks>
    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(ttl);
        ThrowIfDisposed();
        var found = _writeBehind?.UpdateQueuedTtl(key, ttl) ?? false;
        for (var i = _slots.Length - 1; i >= 0; i--)
        {
            var slot = _slots[i];
            using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "expire");
            if (slot.Memory is { } memory)
            {
                found |= await memory.ExpireAsync(key, ttl, cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                found |= await InvokeTierAsync(slot, (key, ttl), static (ops, a, ct) => ops.ExpireAsync(a.key, a.ttl, ct), activity, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.TierWriteFailed(_logger, Name, slot.Name, key, e);
                if (!_options.BestEffortWrites && _writeBehind is null)
                {
                    RemoveFromMemoryTiersAbove(i, key);
                    throw new TierWriteException($"Tier '{slot.Name}' (L{i + 1}) of cache '{Name}' refused the new expiry of {TaiCacheDiagnostics.DescribeKey(key)}.", key, slot.Name, i, e);
                }
            }
        }

        await PublishInvalidationAsync([key], cancellationToken).ConfigureAwait(false);
        return found;
    }
}
