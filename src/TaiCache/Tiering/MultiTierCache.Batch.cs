using TaiCache.Metrics;
using TaiCache.Tiering.WriteBehind;

namespace TaiCache.Tiering;

/// <summary>Batch reads and writes: one round trip per tier, and batch read-through with one factory call.</summary>
public sealed partial class MultiTierCache
{
    /// <inheritdoc />
    /// <remarks>Reads L1 first, then each lower tier once (one <c>GetManyAsync</c>) for the keys still missing; under
    /// read-through, lower hits are copied into the tiers above.</remarks>
    public async ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateEach(keys, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        ThrowIfDisposed();
        var found = new Dictionary<string, T>(list.Count, StringComparer.Ordinal);
        _ = await ReadManyAsync(list, found, _defaults, L1Mark(), cancellationToken).ConfigureAwait(false);
        return found;
    }

    /// <summary>Gets many values, loading the missing ones with one factory call. See <see cref="GetOrSetManyAsync{TState, T}"/>.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys.</param>
    /// <param name="factory">Loads the missing keys.</param>
    /// <param name="options">The entry settings; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The values found or loaded, by key.</returns>
    public ValueTask<IReadOnlyDictionary<string, T>> GetOrSetManyAsync<T>(IEnumerable<string> keys, Func<IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, MultiTierEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return GetOrSetManyAsync(keys, factory, static (f, missing, ct) => f(missing, ct), options, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        var list = items.ToList();
        foreach (var item in list)
        {
            CacheKeyRules.Validate(item.Key, _maxKeyBytes, _allowSpaces, paramName: nameof(items), limitNote: _keyLimitNote);
        }

        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested(); // nothing applied
        var options = ForTtl(ttl);
        var underWay = BeginWrites(list, static i => i.Key); // before looking for refreshes to supersede, as a single set
        try
        {
            List<Task>? refreshing = null;
            foreach (var item in list)
            {
                Refreshing(ref refreshing, SupersedeLoad(item.Key));
            }

            if (refreshing is not null)
            {
                await Task.WhenAll(refreshing).WaitAsync(cancellationToken).ConfigureAwait(false); // land after them (see SetCoreAsync)
            }

            if (_writeBehind is not null)
            {
                // Queued whole or not at all (see WriteBehindQueue.EnqueueManyAsync for each FullPolicy).
                await _writeBehind.EnqueueSetManyAsync(list, options, (direct, ct) => WriteSetsThroughAsync<T>(direct, options, ct), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // As for a single set: the invalidation right behind L2's batch when Redis runs them in that order.
                var publish = _options.Coherence is not null;
                await WriteAllTiersAsync<BatchSet<T>, bool>(new BatchSet<T>(list, publish ? list.ConvertAll(i => i.Key) : [], options, SetMark()), _options.BestEffortWrites, skipTiers: 0, publish, underWay: -1, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            EndWrites(underWay);
        }

        // Applied whole (written through, queued, or carried through on a full queue): kept for fail-safe reads.
        foreach (var item in list)
        {
            KeepForFailSafe(item.Key, item.Value, options);
        }
    }

    /// <inheritdoc />
    /// <remarks>Returns the most keys any one tier removed (under write-behind, how many L1 held).</remarks>
    public async ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateAll(keys, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested(); // nothing removed
        var underWay = BeginWrites(list, static k => k); // before looking for refreshes to supersede, as a single delete
        try
        {
            List<Task>? refreshing = null;
            foreach (var key in list)
            {
                Refreshing(ref refreshing, SupersedeLoad(key));
                ForgetFailSafe(key);
            }

            if (refreshing is not null)
            {
                await Task.WhenAll(refreshing).WaitAsync(cancellationToken).ConfigureAwait(false); // land after them (see DeleteAsync)
                foreach (var key in list)
                {
                    ForgetFailSafe(key); // the refreshes' stores kept their values for fail-safe reads meanwhile
                }
            }

            if (_writeBehind is not null)
            {
                return await _writeBehind.EnqueueDeleteManyAsync(list, WriteRemovalsThroughAsync, cancellationToken).ConfigureAwait(false);
            }

            return await WriteAllTiersAsync<BatchRemoval, long>(new BatchRemoval(list), _options.BestEffortWrites, skipTiers: 0, publish: _options.Coherence is not null, underWay: -1, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWrites(underWay);
        }
    }

    /// <summary>Carries a write-behind batch's sets that found no room in the queue through every tier (full-queue
    /// fallback); <see cref="SetManyAsync"/> keeps the fail-safe copies once the whole batch is applied.</summary>
    private async ValueTask WriteSetsThroughAsync<T>(List<PendingWrite> direct, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        var items = direct.ConvertAll(static e => new KeyValuePair<string, T>(e.Key, ((PendingSet<T>)e).Value));
        var publish = _options.Coherence is not null;
        await WriteAllTiersAsync<BatchSet<T>, bool>(new BatchSet<T>(items, publish ? items.ConvertAll(static i => i.Key) : [], options, SetMark()), _options.BestEffortWrites, skipTiers: 0, publish, underWay: -1, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Carries a write-behind batch's removals that found no room in the queue through every tier (full-queue fallback).</summary>
    private async ValueTask WriteRemovalsThroughAsync(List<PendingWrite> direct, CancellationToken cancellationToken) =>
        await WriteAllTiersAsync<BatchRemoval, long>(new BatchRemoval(direct.ConvertAll(static e => e.Key)), _options.BestEffortWrites, skipTiers: 0, publish: _options.Coherence is not null, underWay: -1, cancellationToken).ConfigureAwait(false);

    /// <summary>Reads keys tier by tier (one batch call per tier) into <paramref name="found"/>; returns those still missing,
    /// which tiers failed (a bit per tier), and which of those answered in part (with the keys they left unanswered).</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="found">Gets the values found.</param>
    /// <param name="options">The entry settings.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <param name="readL1">Whether L1 is read (a recheck that has just read it passes <see langword="false"/>).</param>
    /// <param name="staleOnFailure">Whether a key missing because a tier failed is served from the kept stale values (when the options allow it).</param>
    /// <param name="l1Mark">L1's <see cref="InMemoryTier.WriteMark"/> before the call: a key written there since is not copied into it.</param>
    /// <param name="due">With eager refresh on, gets the keys found in their refresh window (see <see cref="IsRefreshDue"/>).</param>
    /// <param name="skipTiers">Remote tiers not read (a bit per tier): those whose read of this call already failed, waited on once.</param>
    private async ValueTask<(List<string> Missing, ulong FailedTiers, PartialTierReads? Partial)> ReadManyAsync<T>(List<string> keys, Dictionary<string, T> found, MultiTierEntryOptions options, long l1Mark, CancellationToken cancellationToken, bool readL1 = true, bool staleOnFailure = true, List<string>? due = null, ulong skipTiers = 0)
    {
        var missing = keys;
        ulong failedTiers = 0;
        PartialTierReads? partialTiers = null;
        if (_l1 is not null && readL1)
        {
            missing = new List<string>(keys.Count);
            foreach (var key in keys)
            {
                T value;
                bool hit;
                if (due is null)
                {
                    hit = TryGetMemory(_l1, key, out value, MemoryRead.KeyChecked);
                }
                else
                {
                    hit = TryGetAged(_l1, key, checkKeyOnMiss: false, options, out value, out var isDue);
                    if (isDue)
                    {
                        due.Add(key);
                    }
                }

                if (hit)
                {
                    found[key] = value;
                }
                else
                {
                    missing.Add(key);
                }
            }
        }

        if (_writeBehind is not null && missing.Count > 0)
        {
            // Writes not yet on the lower tiers answer for themselves: a queued removal is a miss, a queued value a hit.
            missing.RemoveAll(key =>
            {
                if (!TryReadUnwritten<T>(key, out var unwritten))
                {
                    return false;
                }

                if (unwritten.Status == TierReadStatus.Hit)
                {
                    found[key] = unwritten.Value;
                }

                return true;
            });
        }

        for (var i = _firstRemote; i < _slots.Length && missing.Count > 0; i++)
        {
            if ((skipTiers & TierBit(i)) != 0)
            {
                continue;
            }

            var slot = _slots[i];
            CacheResult<T>[] hits;
            var hitCount = 0;
            using (var activity = StartTierActivity(slot, TaiCacheTelemetry.GetActivity, "get_many", missing.Count))
            {
                if (slot.Memory is { } memory)
                {
                    hits = await ((IBatchReader)memory).ReadManyAsync<T>(missing, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    if (!TryEnter(slot, out var probe))
                    {
                        TaiCacheTelemetry.SetError(activity, CircuitOpenError);
                        failedTiers |= TierBit(i);
                        continue;
                    }

                    try
                    {
                        // The tier call inline, as InvokeEnteredAsync makes it: one async frame fewer per batch that
                        // waits on the network.
                        try
                        {
                            var partial = slot.Ops is IPartialBatchReader ? new PartialBatchRead() : null;
                            hits = await WithTimeout(ReadAlignedAsync<T>(slot.Ops, missing, partial, cancellationToken), cancellationToken).ConfigureAwait(false);
                            slot.Breaker?.OnSuccess();
                            if (partial is { Occurred: true })
                            {
                                // Some of its nodes did not answer (their keys are misses): the tier counts as failed for
                                // this call, so the values then loaded for those keys are not written to it (that would
                                // wait on the same down or hung node again, a second timeout) and fail-safe copies stand in
                                // for them; the keys of the nodes that answered still get theirs (see PartialTierReads).
                                failedTiers |= TierBit(i);
                                (partialTiers ??= new()).Add(i, partial.UnansweredKeys(missing));
                            }
                        }
                        catch (Exception e) when (OnTierCallFailed(slot, e, activity, cancellationToken, probe))
                        {
                            throw TierTimedOut(slot, e);
                        }
                    }
                    catch (Exception e) when (e is CacheSerializationException or CacheWrongTypeException)
                    {
                        // One value the tier holds but cannot read (another client's bytes, another type) failed the whole
                        // batch: read the keys one by one, so only that key is a miss, as in a single-key read.
                        Log.UnreadableValue(_logger, Name, slot.Name, (e as CacheException)?.Key ?? missing[0], e);
                        (hits, var oneFailed) = await ReadOneByOneAsync<T>(slot, missing, cancellationToken).ConfigureAwait(false);
                        failedTiers |= oneFailed ? TierBit(i) : 0;
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        Log.TierReadFailed(_logger, Name, slot, missing[0], e);
                        failedTiers |= TierBit(i);
                        continue;
                    }
                }

                foreach (var hit in hits)
                {
                    hitCount += hit.HasValue ? 1 : 0;
                }

                TaiCacheTelemetry.SetBatchReadResult(activity, missing.Count, hitCount);
            }

            if (hitCount == 0)
            {
                continue;
            }

            // Only memory tiers above this one (the usual L1 over L2): copy synchronously, each tier's lock taken once.
            var fillMemoryOnly = _options.ReadStrategy != ReadStrategy.ReadThrough || i <= _firstRemote;
            var stillMissing = hitCount == missing.Count ? null : new List<string>(missing.Count - hitCount);
            var fill = fillMemoryOnly ? null : new List<KeyValuePair<string, T>>(hitCount);
            var earliestExpiry = long.MaxValue;
            for (var k = 0; k < hits.Length; k++)
            {
                var key = missing[k];
                if (!hits[k].HasValue)
                {
                    stillMissing!.Add(key);
                    continue;
                }

                var value = hits[k].Value;
                found[key] = value;
                if (due is not null && IsRefreshDue(options, hits[k].ExpiresAtUnixMs))
                {
                    due.Add(key);
                }

                KeepReadForFailSafe(key, value, options, l1Mark);
                fill?.Add(new KeyValuePair<string, T>(key, value));
                if (hits[k].ExpiresAtUnixMs is var expiresAt and not 0 && expiresAt < earliestExpiry)
                {
                    earliestExpiry = expiresAt;
                }
            }

            // One write per tier above for the whole batch: its copies live no longer than the batch's shortest-lived value.
            if (fill is not null && ForCopying(options, earliestExpiry == long.MaxValue ? 0 : earliestExpiry) is { } copy)
            {
                await FillManyUpperAsync(i, fill, copy, failedTiers, partialTiers, l1Mark, cancellationToken).ConfigureAwait(false);
            }
            else if (_options.ReadStrategy == ReadStrategy.ReadThrough && !options.SkipMemoryWrite && MayCopyIntoL1(i))
            {
                for (var j = 0; j < _firstRemote; j++)
                {
                    _slots[j].Memory!.SetHits(missing, hits, options.L1Ttl, l1Mark);
                }
            }

            missing = stillMissing ?? [];
        }

        if (failedTiers != 0 && staleOnFailure && options.AllowStaleOnFailure && missing.Count > 0)
        {
            AddStale(missing, found, options);
        }

        return (missing, failedTiers, partialTiers);
    }

    /// <summary>Reads keys from one remote tier one at a time (each unreadable value a miss); also tells whether a read failed.</summary>
    private async ValueTask<(CacheResult<T>[] Hits, bool Failed)> ReadOneByOneAsync<T>(TierSlot slot, List<string> keys, CancellationToken cancellationToken)
    {
        var hits = new CacheResult<T>[keys.Count];
        var failed = false;
        for (var k = 0; k < keys.Count; k++)
        {
            var read = await ReadTierAsync<T>(slot, keys[k], cancellationToken).ConfigureAwait(false);
            if (read.Status == TierReadStatus.Hit)
            {
                hits[k] = new CacheResult<T>(read.Value, read.ExpiresAtUnixMs);
            }

            failed |= read.Status == TierReadStatus.Failed;
        }

        return (hits, failed);
    }

    /// <summary>Reads a batch from a tier into results aligned with the keys: directly when the tier offers it, else through its dictionary.</summary>
    private static ValueTask<CacheResult<T>[]> ReadAlignedAsync<T>(ICacheOps ops, List<string> keys, PartialBatchRead? partial, CancellationToken cancellationToken) =>
        partial is not null && ops is IPartialBatchReader nodes ? nodes.ReadManyAsync<T>(keys, partial, cancellationToken)
        : ops is IBatchReader reader ? reader.ReadManyAsync<T>(keys, cancellationToken)
        : ReadThroughDictionaryAsync<T>(ops, keys, cancellationToken);

    private static async ValueTask<CacheResult<T>[]> ReadThroughDictionaryAsync<T>(ICacheOps ops, List<string> keys, CancellationToken cancellationToken)
    {
        var found = await ops.GetManyAsync<T>(keys, cancellationToken).ConfigureAwait(false);
        var results = new CacheResult<T>[keys.Count];
        for (var i = 0; i < results.Length; i++)
        {
            if (found.TryGetValue(keys[i], out var value))
            {
                results[i] = new CacheResult<T>(value);
            }
        }

        return results;
    }

    /// <summary>Copies a batch found in tier <paramref name="foundAt"/> into the tiers above, except those whose read just failed
    /// (<paramref name="skipTiers"/>); a copy that yields to a value a tier holds goes no higher (see <see cref="YieldingWrite"/>).</summary>
    private async ValueTask FillManyUpperAsync<T>(int foundAt, List<KeyValuePair<string, T>> items, MultiTierEntryOptions options, ulong skipTiers, PartialTierReads? partialTiers, long l1Mark, CancellationToken cancellationToken)
    {
        var skippedByOptions = SkippedBy(options);
        skipTiers |= skippedByOptions;
        for (var j = foundAt - 1; j >= 0; j--)
        {
            var slot = _slots[j];
            List<KeyValuePair<string, T>>? unanswered = null;
            if ((skipTiers & TierBit(j)) != 0)
            {
                // A tier whose read answered in part takes the copies of its answering part's keys (see PartialTierReads).
                if ((skippedByOptions & TierBit(j)) != 0 || slot.Memory is not null || partialTiers is null || !partialTiers.TrySplit(j, items, out var answered, out unanswered))
                {
                    continue;
                }

                items = answered;
            }

            if (slot.Memory is { } memory)
            {
                if (options.SkipMemoryWrite)
                {
                    continue;
                }

                using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "set_many", items.Count);
                if (j < _firstRemote)
                {
                    if (MayCopyIntoL1(foundAt))
                    {
                        memory.FillMany(items, options.L1Ttl, l1Mark);
                    }

                    continue;
                }

                items = AddToMemoryTier(memory, DropOutdated(items, l1Mark), options.Ttl);
                if (items.Exists(i => CopyOutdated(i.Key, l1Mark)))
                {
                    foreach (var outdated in items.FindAll(i => CopyOutdated(i.Key, l1Mark)))
                    {
                        memory.Remove(outdated.Key); // a write began as the copy landed (see TakeBackCopyAsync)
                    }

                    items = DropOutdated(items, l1Mark);
                }

                continue;
            }

            items = await TryStoreManyTierAsync(slot, DropOutdated(items, l1Mark), options.Ttl, cancellationToken).ConfigureAwait(false);
            if (items.Exists(i => CopyOutdated(i.Key, l1Mark)))
            {
                await TakeBackCopyAsync(slot, items.FindAll(i => CopyOutdated(i.Key, l1Mark)).ConvertAll(i => i.Key), cancellationToken).ConfigureAwait(false);
                items = DropOutdated(items, l1Mark);
            }

            if (unanswered is { Count: > 0 })
            {
                items = [.. items, .. unanswered]; // not written here (their node did not answer), but the tiers above take them
            }
        }
    }

    /// <summary>The copies that may still go up: not those of keys written since the batch was read (see <see cref="CopyOutdated"/>).</summary>
    private List<KeyValuePair<string, T>> DropOutdated<T>(List<KeyValuePair<string, T>> items, long l1Mark) =>
        items.Exists(i => CopyOutdated(i.Key, l1Mark)) ? items.FindAll(i => !CopyOutdated(i.Key, l1Mark)) : items;

    /// <summary>Adds a batch to a memory tier below L1 where its keys hold nothing; returns the items it took.</summary>
    private static List<KeyValuePair<string, T>> AddToMemoryTier<T>(InMemoryTier memory, List<KeyValuePair<string, T>> items, TimeSpan? ttl)
    {
        var added = new List<KeyValuePair<string, T>>(items.Count);
        foreach (var item in items)
        {
            if (memory.TryAdd(item.Key, item.Value, ttl))
            {
                added.Add(item);
            }
        }

        return added.Count == items.Count ? items : added;
    }

    /// <summary>
    /// Stores a batch of factory values or copies in one remote tier where their keys hold nothing (see
    /// <see cref="YieldingWrite"/>), logging (not throwing) a failure; returns the items the tiers above may take:
    /// all of them but those that yielded to a value the tier holds (all of them when the tier failed).
    /// </summary>
    private async ValueTask<List<KeyValuePair<string, T>>> TryStoreManyTierAsync<T>(TierSlot slot, List<KeyValuePair<string, T>> items, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
        {
            return items;
        }

        using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "set_many", items.Count);
        try
        {
            return await InvokeTierAsync(slot, (items, ttl), static (ops, a, ct) => YieldingWrite.StoreManyAsync(ops, a.items, a.ttl, ct), activity, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.TierWriteFailed(_logger, Name, slot, items[0].Key, e);
            return items;
        }
    }

    /// <summary>
    /// Stores items in a tier that counts as failed for this call: when its read answered in part, the keys of its
    /// answering part are stored there best effort (<see cref="TryStoreManyTierAsync"/>), the others are not waited on
    /// again. Returns the items the tiers above may take (all of them when the tier failed whole).
    /// </summary>
    private async ValueTask<List<KeyValuePair<string, T>>> TryStorePartialTierAsync<T>(int tier, List<KeyValuePair<string, T>> items, TimeSpan? ttl, PartialTierReads partialTiers, CancellationToken cancellationToken)
    {
        if (_slots[tier].Memory is not null || !partialTiers.TrySplit(tier, items, out var answered, out var unanswered) || answered.Count == 0)
        {
            return items;
        }

        var taken = await TryStoreManyTierAsync(_slots[tier], answered, ttl, cancellationToken).ConfigureAwait(false);
        return taken.Count == answered.Count ? items : [.. taken, .. unanswered];
    }

    /// <summary>Stores the values a batch factory loaded: memory tiers, then the lower tiers best effort (or the write-behind queue).</summary>
    private async ValueTask StoreManyLoadedAsync<T>(List<KeyValuePair<string, T>> items, MultiTierEntryOptions options, ulong skipTiers, PartialTierReads? partialTiers, long l1Mark, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
        {
            return;
        }

        foreach (var item in items)
        {
            KeepForFailSafe(item.Key, item.Value, options);
        }

        if (_writeBehind is not null)
        {
            if (!options.SkipMemoryWrite)
            {
                _l1?.FillMany(items, options.L1Ttl, l1Mark);
            }

            for (var i = 0; i < items.Count && !options.SkipDistributedWrite; i++)
            {
                _writeBehind.TryEnqueueFill(items[i].Key, items[i].Value, options.Ttl, l1Mark);
            }

            return;
        }

        // Lowest tier first, as a single key's value: an item that yields to a value a tier holds (another instance's
        // newer write) goes no higher, L1 included.
        var skippedByOptions = SkippedBy(options);
        skipTiers |= skippedByOptions;
        for (var i = _slots.Length - 1; i >= _firstRemote && items.Count > 0; i--)
        {
            var slot = _slots[i];
            if ((skipTiers & TierBit(i)) != 0)
            {
                if ((skippedByOptions & TierBit(i)) == 0 && partialTiers is not null)
                {
                    items = await TryStorePartialTierAsync(i, items, options.Ttl, partialTiers, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (slot.Memory is { } memory)
            {
                if (options.SkipMemoryWrite)
                {
                    continue;
                }

                using var activity = StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "set_many", items.Count);
                items = AddToMemoryTier(memory, items, options.Ttl);
                continue;
            }

            items = await TryStoreManyTierAsync(slot, items, options.Ttl, cancellationToken).ConfigureAwait(false);
        }

        if (!options.SkipMemoryWrite && items.Count > 0)
        {
            _l1?.FillMany(items, options.L1Ttl, l1Mark);
        }
    }

    /// <summary>Adds stale values for missing keys; true when any missing key has one, also one added when a tier's read failed.</summary>
    private bool AddStale<T>(List<string> missing, Dictionary<string, T> found, MultiTierEntryOptions options)
    {
        var any = false;
        foreach (var key in missing)
        {
            if (found.ContainsKey(key))
            {
                any = true; // a stale value the read added when a tier failed: the key is still missing, to be loaded
            }
            else if (TryGetStale<T>(key, options, out var stale))
            {
                found[key] = stale;
                any = true;
            }
        }

        return any;
    }
}
