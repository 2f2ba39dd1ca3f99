using System.Runtime.CompilerServices;
using TaiCache.Metrics;
using TaiCache.Redis;

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
        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
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
        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        return SetCoreAsync(key, value, Resolve(options), cancellationToken);
    }

    private ValueTask SetCoreAsync<T>(string key, T value, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken); // nothing applied (write-behind wrote L1 and queued it)
        }

        var underWay = BeginWrite(key); // before looking for a refresh to supersede (see MultiTierCache.WritesUnderWay.cs)
        try
        {
            return SupersedeLoad(key) is { IsCompleted: false } refreshing
                ? SetAfterAsync(refreshing, key, value, options, underWay, cancellationToken)
                : SetSupersededAsync(key, value, options, underWay, cancellationToken);
        }
        catch
        {
            EndWrite(underWay);
            throw;
        }
    }

    /// <summary>A set that came while an eager refresh of the key was storing its value: lands after it, so it wins.</summary>
    private async ValueTask SetAfterAsync<T>(Task refreshing, string key, T value, MultiTierEntryOptions options, int underWay, CancellationToken cancellationToken)
    {
        try
        {
            await refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            EndWrite(underWay);
            throw;
        }

        await SetSupersededAsync(key, value, options, underWay, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A set, the key's load under way (if any) superseded already; a write-through counted in as <paramref name="underWay"/> (see <see cref="BeginWrite"/>).</summary>
    private ValueTask SetSupersededAsync<T>(string key, T value, MultiTierEntryOptions options, int underWay, CancellationToken cancellationToken)
    {
        if (_writeBehind is not null && options.SkipDistributedWrite)
        {
            // Nothing for the lower tiers: nothing to queue.
            SetMemoryTiers(key, value, options);
            KeepForFailSafe(key, value, options);
            return default;
        }

        if (_writeBehind is not null)
        {
            var queued = _writeBehind.EnqueueSetAsync(key, value, options, cancellationToken);
            if (!options.AllowStaleOnFailure)
            {
                ForgetFailSafe(key); // an older value kept by an earlier set must not be served in place of this one
                return queued;
            }

            if (queued.IsCompletedSuccessfully)
            {
                KeepForFailSafe(key, value, options);
                return default;
            }

            return KeepAfterQueuedAsync(queued, key, value, options);
        }

        return WriteThroughSetAsync(key, value, options, cancellationToken, underWay);
    }

    private async ValueTask KeepAfterQueuedAsync<T>(ValueTask queued, string key, T value, MultiTierEntryOptions options)
    {
        await queued.ConfigureAwait(false);
        KeepForFailSafe(key, value, options);
    }

    internal ValueTask WriteThroughSetAsync<T>(string key, T value, MultiTierEntryOptions options, CancellationToken cancellationToken, int underWay = -1)
    {
        // With coherence, WriteDownAsync tells the peers too (unless only the memory tiers are written).
        var written = WriteDownAsync(key, value, options, _options.BestEffortWrites, skipTiers: 0, publish: _options.Coherence is not null && !options.SkipDistributedWrite, cancellationToken, underWay: underWay);

        // Nothing to do after the write (no fail-safe copy): no second async frame for the set.
        if (!options.AllowStaleOnFailure)
        {
            ForgetFailSafe(key); // an older value kept by an earlier set must not be served in place of this one
            return written;
        }

        return AfterWriteThroughAsync(written, key, value, options);
    }

    private async ValueTask AfterWriteThroughAsync<T>(ValueTask written, string key, T value, MultiTierEntryOptions options)
    {
        await written.ConfigureAwait(false);
        KeepForFailSafe(key, value, options);
    }

    /// <summary>
    /// Writes a value to every tier the options do not leave out, lowest first (see <see cref="WriteAllTiersAsync"/>); a
    /// value loaded since L1's <paramref name="copiedSince"/> (not -1) is a copy, which L1 drops if the key was written meanwhile.
    /// A user's write-through is counted out as <paramref name="underWay"/> when it ends (see <see cref="BeginWrite"/>).
    /// </summary>
    private ValueTask WriteDownAsync<T>(string key, T value, MultiTierEntryOptions options, bool bestEffort, ulong skipTiers, bool publish, CancellationToken cancellationToken, long copiedSince = -1, int underWay = -1)
    {
        var write = new KeySet<T>(key, value, options, copiedSince, setSince: copiedSince >= 0 ? -1 : SetMark(), copiedSince >= 0 ? new StrongBox<bool>() : null);
        var written = WriteAllTiersAsync<KeySet<T>, bool>(write, bestEffort, skipTiers | SkippedBy(options), publish, underWay, cancellationToken);
        return written.IsCompletedSuccessfully ? default : new ValueTask(written.AsTask());
    }

    /// <summary>
    /// Whether an invalidation published now reaches Redis after a command tier <paramref name="index"/> issues now, so
    /// the peers' next read of L2 sees the write: the tier is the first remote one (the tiers above it are local) and a
    /// <see cref="RedisCache"/> on coherence's own connection to a single server. Then a write and its invalidation cost
    /// one round trip, not two.
    /// </summary>
    private bool PublishesInOrderWith(int index) =>
        index == _firstRemote && _slots[index].Ops is RedisCache redis && _options.Coherence is { } coherence && redis.SharesOrderedConnection(coherence.Multiplexer);

    internal void RemoveFromMemoryTiersAbove(int index, string key)
    {
        for (var j = index - 1; j >= 0; j--)
        {
            _slots[j].Memory?.Remove(key);
        }

        ForgetFailSafe(key);
    }

    /// <summary>The tiers above the first remote one take the value, or drop their copy when the options keep it out of memory.</summary>
    internal void SetMemoryTiers<T>(string key, T value, MultiTierEntryOptions options)
    {
        for (var i = 0; i < _firstRemote; i++)
        {
            if (options.SkipMemoryWrite)
            {
                _slots[i].Memory!.Remove(key);
            }
            else
            {
                _slots[i].Memory!.Set(key, value, options.L1Ttl);
            }
        }
    }

    /// <summary>
    /// Copies a value read or loaded since <paramref name="l1Mark"/> into L1 (the one memory tier above the remote ones),
    /// unless the options keep it out of memory or the key was written there meanwhile (see <see cref="InMemoryTier.Fill"/>).
    /// </summary>
    internal void FillMemoryTiers<T>(string key, T value, MultiTierEntryOptions options, long l1Mark)
    {
        if (!options.SkipMemoryWrite)
        {
            _l1?.Fill(key, value, options.L1Ttl, l1Mark);
        }
    }

    /// <summary>L1's write mark (0 without L1), read before a slower tier is read for a copy into L1.</summary>
    private long L1Mark() => _l1?.WriteMark ?? 0;

    /// <summary>L1's write mark before a write-through writes the tiers below it (see <see cref="InMemoryTier.SetUnlessWrittenSince"/>);
    /// -1 when L1 is the only tier: nothing is written before it, and two sets racing there must leave the later value.</summary>
    private long SetMark() => _slots.Length > 1 ? L1Mark() : -1;

    /// <summary>Tells whether the key may have been written in L1 since <paramref name="l1Mark"/>: by this instance, or
    /// removed by a peer's invalidation (coherence), a resynchronization or anyone else.</summary>
    private bool WrittenSince(string key, long l1Mark) => _l1?.WrittenSince(key, l1Mark) == true;

    /// <summary>Whether L1 shows no write of the key since <paramref name="l1Mark"/>; <see langword="false"/> without an L1, which cannot tell.</summary>
    internal bool WroteNothingSince(string key, long l1Mark) => _l1 is not null && !_l1.WrittenSince(key, l1Mark);

    /// <summary>The tiers (a bit each) that the options keep a value out of, other than the memory tiers.</summary>
    private ulong SkippedBy(MultiTierEntryOptions options) => options.SkipDistributedWrite ? _distributedTiers : 0;

    /// <inheritdoc />
    /// <remarks>
    /// Write-through: removes the key from every tier, lowest first, and returns whether any tier held it. Write-behind:
    /// removes it from L1 at once, queues the removal for the lower tiers, and returns whether L1 held it.
    /// </remarks>
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken); // nothing removed
        }

        var underWay = BeginWrite(key); // before looking for a refresh to supersede, as a set
        try
        {
            var refreshing = SupersedeLoad(key);
            ForgetFailSafe(key);
            return refreshing is { IsCompleted: false } ? DeleteAfterAsync(refreshing, key, underWay, cancellationToken) : DeleteSupersededAsync(key, underWay, cancellationToken);
        }
        catch
        {
            EndWrite(underWay);
            throw;
        }
    }

    /// <summary>A delete that came while an eager refresh of the key was storing its value: lands after it, so the key stays deleted.</summary>
    private async ValueTask<bool> DeleteAfterAsync(Task refreshing, string key, int underWay, CancellationToken cancellationToken)
    {
        try
        {
            await refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            EndWrite(underWay);
            throw;
        }

        ForgetFailSafe(key); // the refresh's store kept its value for fail-safe reads meanwhile
        return await DeleteSupersededAsync(key, underWay, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<bool> DeleteSupersededAsync(string key, int underWay, CancellationToken cancellationToken) =>
        _writeBehind is not null ? _writeBehind.EnqueueDeleteAsync(key, cancellationToken) : WriteThroughDeleteAsync(key, cancellationToken, underWay);

    // As for a set: the invalidation right after L2's DEL when Redis runs them in that order.
    internal ValueTask<bool> WriteThroughDeleteAsync(string key, CancellationToken cancellationToken, int underWay = -1) =>
        WriteAllTiersAsync<KeyRemoval, bool>(new KeyRemoval(key), _options.BestEffortWrites, skipTiers: 0, publish: _options.Coherence is not null, underWay, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Sets the new expiry in every tier (lowest first); under write-behind a queued value of the key takes the new TTL too,
    /// and a lower tier whose call failed gets the expiry again from the flusher (retried with back-off, then
    /// dead-lettered as <see cref="WriteBehindOperation.Expire"/>). Returns whether any tier held the key.</remarks>
    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        CacheKeyRules.ValidateTtl(ttl);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested(); // nothing changed
        if (_writeBehind?.IsDeletePending(key) == true)
        {
            return false; // deleted for the caller; the lower tiers still hold the old value until the delete lands
        }

        var found = _writeBehind?.UpdateQueuedTtl(key, ttl) ?? false;
        var failedTiers = 0;
        var expiresAt = Deadline.After(_time.GetUtcNow(), ttl); // a retry keeps the deadline of this call
        _writeBehind?.BeginExpiry(key);
        try
        {
            found |= await ExpireTiersAsync(key, ttl, failedTiers: bits => failedTiers |= bits, cancellationToken).ConfigureAwait(false);
        }
        catch when (_options.Coherence is not null)
        {
            // The tiers below the one that failed (lowest first) have the new expiry, or may have (a timeout, a
            // cancellation): the peers' L1 copies must not outlive it.
            await PublishInvalidationAsync([key], CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        finally
        {
            // Under write-behind a lower tier that failed gets the expiry again from the flusher (retried, dead-lettered),
            // unless a set or delete of the key was queued meanwhile.
            if (_writeBehind is not null && !_writeBehind.EndExpiry(key, ttl, expiresAt, failedTiers))
            {
                Log.ExpiryNotQueued(_logger, Name, key);
            }
        }

        await PublishInvalidationAsync([key], cancellationToken).ConfigureAwait(false);
        return found;
    }

    /// <summary>Sets the new expiry in every tier, lowest first; reports the lower tiers whose call failed (when not thrown).</summary>
    private async ValueTask<bool> ExpireTiersAsync(string key, TimeSpan ttl, Action<int> failedTiers, CancellationToken cancellationToken)
    {
        var found = false;
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
                Log.TierWriteFailed(_logger, Name, slot, key, e);
                failedTiers(slot.Bit);
                if (!_options.BestEffortWrites && _writeBehind is null)
                {
                    RemoveFromMemoryTiersAbove(i, key);
                    throw new TierWriteException($"Tier '{slot.Name}' (L{i + 1}) of cache '{Name}' refused the new expiry of {TaiCacheDiagnostics.DescribeKey(key)}.", key, slot.Name, i, e);
                }
            }
        }

        return found;
    }
}
