namespace TaiCache.Tiering;

/// <summary>
/// Eager refresh (<see cref="MultiTierEntryOptions.EagerRefreshThreshold"/>): a value read near the end of its TTL is
/// returned as it is while one background load per key (one per batch call for a batch's keys) runs the factory and
/// stores the new value in every tier.
/// </summary>
public sealed partial class MultiTierCache
{
    /// <summary>
    /// The L1 read of <see cref="GetOrSetAsync{TState, T}"/> with eager refresh on: on a hit, starts a refresh when the
    /// L1 copy's expiry is the value's (the copy was written with <see cref="MultiTierEntryOptions.Ttl"/>, or capped at
    /// a lower tier's expiry) and is in its refresh window. A shorter <see cref="MultiTierEntryOptions.LocalTtl"/>
    /// leaves the decision to the lower tier's hit that follows the copy's expiry: the copy's end is not the value's.
    /// </summary>
    private bool TryGetAgeing<TState, T>(InMemoryTier l1, string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, out T value)
    {
        if (options.EagerRefreshThreshold is not (> 0 and < 1))
        {
            options.Validate(); // throws naming it
        }

        if (!TryGetAged(l1, key, checkKeyOnMiss: true, options, out value, out var due))
        {
            return false;
        }

        if (due && !IsDisposed)
        {
            StartRefresh(key, state, factory, options);
        }

        return true;
    }

    /// <summary>
    /// Reads L1 with eager refresh on; <paramref name="due"/> tells whether a hit is in its refresh window, judged by the
    /// L1 copy's expiry when that is the value's (a TTL is set and no shorter <see cref="MultiTierEntryOptions.LocalTtl"/>).
    /// </summary>
    private bool TryGetAged<T>(InMemoryTier l1, string key, bool checkKeyOnMiss, MultiTierEntryOptions options, out T value, out bool due)
    {
        var hit = l1.TryGetLenient(key, checkKeyOnMiss, out value!, out var wrongType, out var left);
        if (wrongType)
        {
            LogWrongType<T>(l1, key);
        }

        due = hit && options.Ttl is { } ttl && (options.LocalTtl is not { } local || local >= ttl)
              && left != Timeout.InfiniteTimeSpan && left < RefreshWindow(options, ttl);
        return hit;
    }

    /// <summary>
    /// Starts one background load of a batch's keys found in their refresh window, leaving out those with a load under
    /// way: one factory call for them all, whose values replace the held ones.
    /// </summary>
    private void StartBatchRefresh<TState, T>(List<string> due, TState state, Func<TState, IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, MultiTierEntryOptions options)
    {
        if (IsDisposed)
        {
            return;
        }

        var led = new List<string>(due.Count);
        var flights = new List<BatchFlight<T>?>(due.Count);
        foreach (var key in due)
        {
            var flight = new BatchFlight<T>();
            if (!_inflight.ContainsKey(key) && _inflight.TryAdd(key, flight))
            {
                led.Add(key);
                flights.Add(flight);
            }
        }

        if (led.Count == 0)
        {
            return;
        }

        Log.EagerRefreshStarted(_logger, Name, led[0]);
        RunBatchRefresh(led, flights, state, factory, options);
    }

    /// <summary>Runs a batch refresh on the thread pool (apart from <see cref="StartBatchRefresh"/>, whose early returns then allocate no closure).</summary>
    private void RunBatchRefresh<TState, T>(List<string> led, List<BatchFlight<T>?> flights, TState state, Func<TState, IReadOnlyList<string>, CancellationToken, ValueTask<IReadOnlyDictionary<string, T>>> factory, MultiTierEntryOptions options)
    {
        var storesBefore = Volatile.Read(ref _factoryStores);
        var l1Mark = L1Mark();
        _ = Task.Run(async () =>
        {
            try
            {
                await LoadManyAsync(led, flights, state, factory, options, failedTiers: 0, storesBefore, l1Mark, refresh: true).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                if (!IsDisposed)
                {
                    Log.EagerRefreshFailed(_logger, Name, led[0], e);
                }
            }
        });
    }

    /// <summary>
    /// Stores a batch refresh's values as sets (see <see cref="StoreRefreshedAsync"/>): one batch write per tier, best
    /// effort, peers told; queued under write-behind. Entry options that leave tiers out store key by key.
    /// </summary>
    private async Task StoreManyRefreshedAsync<T>(List<KeyValuePair<string, T>> items, MultiTierEntryOptions options)
    {
        if (items.Count == 0)
        {
            return;
        }

        foreach (var item in items)
        {
            KeepForFailSafe(item.Key, item.Value, options);
        }

        if (options.SkipMemoryWrite || options.SkipDistributedWrite)
        {
            foreach (var item in items)
            {
                await StoreRefreshedAsync(item.Key, item.Value, options, skipTiers: 0).ConfigureAwait(false);
            }
        }
        else if (_writeBehind is not null)
        {
            await _writeBehind.EnqueueSetManyAsync(items, options, (direct, ct) => WriteSetsThroughAsync<T>(direct, options, ct), CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            var publish = _options.Coherence is not null;
            await WriteAllTiersAsync<BatchSet<T>, bool>(new BatchSet<T>(items, publish ? items.ConvertAll(static i => i.Key) : [], options, SetMark()), bestEffort: true, skipTiers: 0, publish, underWay: -1, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Whether a lower tier's hit, expiring at <paramref name="expiresAtUnixMs"/> (0 when unknown or never), is in its refresh window.</summary>
    private bool IsRefreshDue(MultiTierEntryOptions options, long expiresAtUnixMs) =>
        options is { EagerRefreshThreshold: not null, Ttl: { } ttl } && expiresAtUnixMs != 0 && !IsDisposed
        && expiresAtUnixMs - _time.GetUtcNow().ToUnixTimeMilliseconds() < RefreshWindow(options, ttl).TotalMilliseconds;

    /// <summary>The last part of a value's TTL in which a read refreshes it: (1 - threshold) x TTL.</summary>
    private static TimeSpan RefreshWindow(MultiTierEntryOptions options, TimeSpan ttl) => ttl * (1 - options.EagerRefreshThreshold!.Value);

    /// <summary>
    /// Starts the key's refresh unless a load of the key is already under way (a refresh or a caller's load): it leads
    /// a flight like any load, so callers that miss meanwhile join it, and writes of the key supersede it.
    /// </summary>
    private void StartRefresh<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options)
    {
        if (_inflight.ContainsKey(key))
        {
            return;
        }

        // Once per refresh, off the hit path: the L1 hit checked only the threshold.
        options.Validate();
        var flight = new Flight<T>();
        if (!_inflight.TryAdd(key, flight))
        {
            return;
        }

        Log.EagerRefreshStarted(_logger, Name, key);
        RunRefresh(key, state, factory, options, flight);
    }

    /// <summary>
    /// Runs a refresh on the thread pool: a factory that works synchronously before its first await must not run on
    /// the reader's thread. Apart from <see cref="StartRefresh"/>, so that its early return (a refresh under way, the
    /// usual case for a hot key in its window) allocates no closure.
    /// </summary>
    private void RunRefresh<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, Flight<T> flight) =>
        _ = Task.Run(() => RefreshAsync(key, state, factory, options, flight));

    /// <summary>
    /// Stores a refresh's value as a set (a load's value is a copy that yields to any value a tier holds, and every tier
    /// still holds the old one): best effort in every tier under write-through, telling the peers; queued under
    /// write-behind. The caller checked that no write of the key came since the refresh began.
    /// </summary>
    private ValueTask StoreRefreshedAsync<T>(string key, T value, MultiTierEntryOptions options, ulong skipTiers) =>
        _writeBehind is not null
            ? SetSupersededAsync(key, value, options, underWay: -1, CancellationToken.None)
            : WriteDownAsync(key, value, options, bestEffort: true, skipTiers, publish: _options.Coherence is not null && !options.SkipDistributedWrite, CancellationToken.None);

    private async Task RefreshAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, Flight<T> flight)
    {
        try
        {
            var value = await LoadFromFactoryAsync(key, state, factory, options, failedTiers: 0, flight, L1Mark(), refresh: true).ConfigureAwait(false);
            if (!flight.HandedOff)
            {
                _inflight.TryRemove(new KeyValuePair<string, object>(key, flight));
                flight.TrySetResult(value);
            }
        }
        catch (Exception e)
        {
            if (!IsDisposed)
            {
                Log.EagerRefreshFailed(_logger, Name, key, e); // disposal cancels the factory's token: not a failure
            }

            if (!flight.HandedOff)
            {
                EndFlight(key, flight, e);
            }
        }
    }
}
