namespace TaiCache.Tiering;

/// <summary>
/// Batch read-through with stampede protection: a key missing from every tier is loaded by one caller at a time per
/// instance, whether the callers ask for it alone (<c>GetOrSetAsync</c>) or in batches that overlap.
/// </summary>
public sealed partial class MultiTierCache
{
    /// <summary>
    /// Gets many values; the keys no tier holds are loaded with one call of <paramref name="factory"/> (given only those
    /// keys) and stored in every tier. Each tier is read once (MGET, memcached multi-get). A key another caller is
    /// already loading (alone with <c>GetOrSetAsync</c>, or in another batch) is not passed to the factory: this call
    /// waits for that load instead, so concurrent batches that overlap load each key once.
    /// </summary>
    /// <typeparam name="TState">The type of the state passed to the factory.</typeparam>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys; a key given twice appears once in the result and is passed to the factory once.</param>
    /// <param name="state">The state passed to the factory.</param>
    /// <param name="factory">Loads the missing keys; returns the values it found (keys it leaves out stay missing and are
    /// not cached, for the callers waiting on this load too). Given a token cancelled when the cache is disposed: the
    /// load is shared, so one caller giving up does not cancel it for the others.</param>
    /// <param name="options">The entry settings; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels this caller's wait (not the shared load, whose values are still stored).</param>
    /// <returns>The values found in the tiers or loaded, by key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/>, a key or <paramref name="factory"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidCacheKeyException">A key breaks the key rules; nothing is read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>When the factory (this call's, or that of a load it waits for) throws, the exception reaches every
    /// caller waiting on it, unless <see cref="MultiTierEntryOptions.AllowStaleOnFailure"/> finds stale values.</remarks>
    public async ValueTask<IReadOnlyDictionary<string, T>> GetOrSetManyAsync<TState, T>(IEnumerable<string> keys, TState state, Func<TState, IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, MultiTierEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var list = CacheKeyRules.ValidateEach(keys, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var entry = Resolve(options);
        var found = new Dictionary<string, T>(list.Count, StringComparer.Ordinal);
        var storesBefore = Volatile.Read(ref _factoryStores);
        var l1Mark = L1Mark();
        var due = entry is { EagerRefreshThreshold: not null, Ttl: not null } ? new List<string>() : null;
        var (missing, failedTiers, partialTiers) = await ReadManyAsync(list, found, entry, l1Mark, cancellationToken, due: due).ConfigureAwait(false);
        if (due is { Count: > 0 })
        {
            StartBatchRefresh(CacheKeyRules.Distinct(due), state, factory, entry);
        }

        if (missing.Count == 0)
        {
            return found;
        }

        // A key asked twice and missing is loaded once.
        missing = CacheKeyRules.Distinct(missing);
        var claim = ClaimLoads<T>(missing);
        var load = claim.Led.Count > 0 ? LoadManyAsync(claim.Led, claim.Flights, state, factory, entry, failedTiers, storesBefore, l1Mark, partialTiers: partialTiers) : null;
        if (load is not null && (cancellationToken.CanBeCanceled || entry.FactoryTimeout is not null))
        {
            ObserveFailure(load); // a caller that stops waiting leaves the load running: its failure is still observed
        }

        try
        {
            await WaitForLoadsAsync(load, claim.Joined, entry, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e) when (entry.FactoryTimeout is not null && !IsFaultOfAny(load, claim.Joined, e))
        {
            Log.FactoryTimedOut(_logger, Name, missing[0], entry.FactoryTimeout.Value);
            if (AddStale(missing, found, entry))
            {
                return found;
            }

            throw new CacheTimeoutException($"The batch factory for {missing.Count} keys (first {TaiCacheDiagnostics.DescribeKey(missing[0])}) did not finish within {entry.FactoryTimeout}; it keeps running and its values will be stored.", missing[0], e);
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested) && entry.AllowStaleOnFailure && AddStale(missing, found, entry))
        {
            return found;
        }

        foreach (var (key, value) in load?.Result ?? [])
        {
            found[key] = value;
        }

        foreach (var (key, single, batch) in claim.Joined)
        {
            if (single is not null)
            {
                found[key] = single.Result;
            }
            else if (batch!.Result is { HasValue: true } result)
            {
                found[key] = result.Value;
            }
        }

        if (failedTiers != 0 && entry.AllowStaleOnFailure)
        {
            AddStale(missing, found, entry);
        }

        return found;
    }

    /// <summary>
    /// Waits for this batch's load and the loads it joined, within <see cref="MultiTierEntryOptions.FactoryTimeout"/>
    /// (a <see cref="TimeoutException"/> past it) and the caller's token. Throws the first failure among them.
    /// </summary>
    /// <summary>Whether the exception is a load's own (the batch's, or a joined one's: a driver's timeout, say), not the end of this caller's wait.</summary>
    private static bool IsFaultOfAny<T>(Task<Dictionary<string, T>>? load, List<(string Key, Task<T>? Single, Task<CacheResult<T>>? Batch)> joined, Exception e) =>
        (load is not null && IsFaultOf(load, e)) || joined.Exists(j => IsFaultOf((Task?)j.Single ?? j.Batch!, e));

    private Task WaitForLoadsAsync<T>(Task<Dictionary<string, T>>? load, List<(string Key, Task<T>? Single, Task<CacheResult<T>>? Batch)> joined, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        var tasks = new List<Task>(joined.Count + 1);
        if (load is not null)
        {
            tasks.Add(load);
        }

        foreach (var (_, single, batch) in joined)
        {
            tasks.Add((Task?)single ?? batch!);
        }

        var all = tasks.Count == 1 ? tasks[0] : Task.WhenAll(tasks);
        if (all.IsCompleted)
        {
            return all;
        }

        return options.FactoryTimeout is { } timeout ? all.WaitAsync(timeout, _time, cancellationToken) : all.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// For each missing key: joins the load under way (a single-key flight of the same type, or another batch's), or
    /// claims the key with a flight of its own. A key whose load under way is of another type is led without a flight.
    /// </summary>
    private BatchClaim<T> ClaimLoads<T>(List<string> missing)
    {
        var claim = new BatchClaim<T>([], [], []);
        foreach (var key in missing)
        {
            while (true)
            {
                if (_inflight.TryGetValue(key, out var existing))
                {
                    switch (existing)
                    {
                        case ISupersedable { IsSuperseded: true }:
                            // A load a write superseded: its value is older than the write (see GetOrSetSlowAsync).
                            claim.Led.Add(key);
                            claim.Flights.Add(null);
                            break;
                        case Flight<T> single:
                            claim.Joined.Add((key, single.Task, null));
                            break;
                        case BatchFlight<T> batch:
                            claim.Joined.Add((key, null, batch.Task));
                            break;
                        default:
                            claim.Led.Add(key);
                            claim.Flights.Add(null);
                            break;
                    }

                    break;
                }

                var mine = new BatchFlight<T>();
                if (_inflight.TryAdd(key, mine))
                {
                    claim.Led.Add(key);
                    claim.Flights.Add(mine);
                    break;
                }
            }
        }

        return claim;
    }

    /// <summary>
    /// The load of the keys a batch leads: L1 again (another load may have just stored some), the lower tiers again when
    /// a load finished since this batch read them, then one factory call for the rest, whose values are stored before
    /// the flights complete. Runs apart from the caller's token.
    /// </summary>
    /// <param name="led">The keys this batch leads.</param>
    /// <param name="flights">Their flights, aligned with <paramref name="led"/> (<see langword="null"/> where none could be claimed).</param>
    /// <param name="state">The factory's state.</param>
    /// <param name="factory">The batch factory.</param>
    /// <param name="options">The entry settings.</param>
    /// <param name="failedTiers">The tiers whose batch read failed (a bit per tier): not waited on again for the write.</param>
    /// <param name="partialTiers">Those of <paramref name="failedTiers"/> that answered in part: their answering part still gets its keys' values.</param>
    /// <param name="storesBefore">The count of stored factory loads (<see cref="_factoryStores"/>) before this batch
    /// read the tiers: when it has moved, a load may have stored a key after the batch missed it and before it claimed it.</param>
    /// <param name="l1Mark">L1's <see cref="InMemoryTier.WriteMark"/> before the batch read the tiers: a key written
    /// since (here, or removed by a peer's invalidation) is not stored over that write.</param>
    /// <param name="refresh">Whether this is an eager refresh of keys the tiers hold: the factory runs for every key and
    /// its values replace the held ones (see <see cref="StoreManyRefreshedAsync"/>).</param>
    private async Task<Dictionary<string, T>> LoadManyAsync<TState, T>(List<string> led, List<BatchFlight<T>?> flights, TState state, Func<TState, IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, MultiTierEntryOptions options, ulong failedTiers, long storesBefore, long l1Mark, bool refresh = false, PartialTierReads? partialTiers = null)
    {
        var loaded = new Dictionary<string, T>(led.Count, StringComparer.Ordinal);
        try
        {
            var toLoad = new List<string>(led.Count);
            foreach (var key in led)
            {
                if (refresh)
                {
                    toLoad.Add(key);
                    continue;
                }

                if (_l1 is not null && TryGetMemory(_l1, key, out T local, MemoryRead.Recheck))
                {
                    loaded[key] = local;
                }
                else
                {
                    toLoad.Add(key);
                }
            }

            if (!refresh && toLoad.Count > 0 && Volatile.Read(ref _factoryStores) != storesBefore)
            {
                // Without it an L1-less cache (or an L1 that has already evicted the key) ran the factory again for a
                // key whose load ended between this batch's read and its claim. No stale values here: those are the
                // caller's, not the shared load's.
                // The tiers whose read of this call failed are not waited on again (one TierTimeout per call).
                var (stillMissing, failedAgain, partialAgain) = await ReadManyAsync(toLoad, loaded, options, l1Mark, CancellationToken.None, readL1: false, staleOnFailure: false, skipTiers: failedTiers).ConfigureAwait(false);
                toLoad = stillMissing;
                failedTiers |= failedAgain;
                partialTiers = PartialTierReads.Merge(partialTiers, partialAgain);
            }

            if (toLoad.Count > 0)
            {
                var fromFactory = await RunBatchFactoryAsync(state, factory, toLoad, options).ConfigureAwait(false);
                var toStore = new List<KeyValuePair<string, T>>(toLoad.Count);
                List<TaskCompletionSource>? storing = null;
                try
                {
                    for (var i = 0; i < toLoad.Count; i++)
                    {
                        var key = toLoad[i];
                        if (fromFactory is not null && fromFactory.TryGetValue(key, out var value))
                        {
                            loaded[key] = value;

                            // A write of the key made meanwhile is not overwritten; one made while a refresh stores waits
                            // for it (see StoreUnlessSupersededAsync). A refresh loads every key it leads, in order.
                            var begun = refresh ? BeginRefreshStore(flights[i]!, key, l1Mark) : null;
                            if (begun is not null)
                            {
                                (storing ??= []).Add(begun);
                            }

                            if (refresh ? begun is not null : !IsLoadSuperseded(key) && !WrittenSince(key, l1Mark))
                            {
                                toStore.Add(new KeyValuePair<string, T>(key, value));
                            }
                        }
                    }

                    // Tiers whose batch read just failed are not waited on again for the write (one TierTimeout per call);
                    // the others are bounded by their own timeouts.
                    if (!IsDisposed)
                    {
                        if (refresh)
                        {
                            await StoreManyRefreshedAsync(toStore, options).ConfigureAwait(false);
                        }
                        else
                        {
                            await StoreManyLoadedAsync(toStore, options, failedTiers, partialTiers, l1Mark, CancellationToken.None).ConfigureAwait(false);
                        }

                        CountFactoryStore(toStore.Count);
                    }
                }
                finally
                {
                    storing?.ForEach(static s => s.TrySetResult());
                }
            }
        }
        catch (Exception e)
        {
            for (var i = 0; i < led.Count; i++)
            {
                if (flights[i] is { } flight)
                {
                    _inflight.TryRemove(new KeyValuePair<string, object>(led[i], flight));
                    flight.TrySetException(e);
                    _ = flight.Task.Exception; // observed here: a flight nobody joined must not report it again
                }
            }

            throw;
        }

        for (var i = 0; i < led.Count; i++)
        {
            if (flights[i] is { } flight)
            {
                _inflight.TryRemove(new KeyValuePair<string, object>(led[i], flight));
                flight.TrySetResult(loaded.TryGetValue(led[i], out var value) ? new CacheResult<T>(value) : default);
            }
        }

        return loaded;
    }

    /// <summary>Calls a batch factory; under <see cref="MultiTierEntryOptions.FactoryHardTimeout"/>, abandons it (the load fails with <see cref="CacheTimeoutException"/>) when it runs past.</summary>
    private async Task<IReadOnlyDictionary<string, T>?> RunBatchFactoryAsync<TState, T>(TState state, Func<TState, IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, List<string> keys, MultiTierEntryOptions options)
    {
        if (options.FactoryHardTimeout is not { } hard)
        {
            return await factory(state, keys, _disposeCts.Token).ConfigureAwait(false);
        }

        var abandon = HardTimeoutSource(options)!;
        var factoryTask = RunBatchAsync(state, factory, keys, abandon.Token);
        try
        {
            var loaded = await factoryTask.WaitAsync(hard, _time).ConfigureAwait(false);
            abandon.Dispose();
            return loaded;
        }
        catch (TimeoutException e) when (!IsFaultOf(factoryTask, e))
        {
            throw Abandon(keys[0], keys.Count, factoryTask, abandon, hard, e);
        }
        catch
        {
            ReleaseWhenDone(factoryTask, abandon);
            throw;
        }
    }

    private static async Task<IReadOnlyDictionary<string, T>> RunBatchAsync<TState, T>(TState state, Func<TState, IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, List<string> keys, CancellationToken cancellationToken) =>
        await factory(state, keys, cancellationToken).ConfigureAwait(false);

    /// <summary>What a batch found under way: the keys it leads (with their flights, or none) and the loads it joined.</summary>
    private readonly record struct BatchClaim<T>(List<string> Led, List<BatchFlight<T>?> Flights, List<(string Key, Task<T>? Single, Task<CacheResult<T>>? Batch)> Joined);

    /// <summary>A key's load led by a batch: its result may be a miss (the factory left the key out).</summary>
    private sealed class BatchFlight<T>() : TaskCompletionSource<CacheResult<T>>(TaskCreationOptions.RunContinuationsAsynchronously), ISupersedable
    {
        private SupersedeGate _gate;

        public bool IsSuperseded => _gate.IsSuperseded;

        public Task? Supersede() => _gate.Supersede();

        public TaskCompletionSource? TryBeginStore() => _gate.TryBeginStore();
    }
}
