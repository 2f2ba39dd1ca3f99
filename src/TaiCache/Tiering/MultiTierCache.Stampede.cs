using System.Runtime.CompilerServices;

namespace TaiCache.Tiering;

/// <summary>Read-through with stampede protection: one load per key and instance, however many callers wait for it.</summary>
public sealed partial class MultiTierCache
{
    /// <summary>
    /// Gets a value, or loads it once (from a lower tier, else from <paramref name="factory"/>) and stores it, however
    /// many callers ask for the key at the same time.
    /// </summary>
    /// <typeparam name="TState">The type of the state passed to the factory (lets the factory be a <see langword="static"/> lambda).</typeparam>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="state">The state passed to the factory.</param>
    /// <param name="factory">Loads the value when no tier has it; given a token cancelled when the cache is disposed.</param>
    /// <param name="options">The entry settings; <see langword="null"/> for <see cref="MultiTierCacheOptions.DefaultEntryOptions"/>.</param>
    /// <param name="cancellationToken">Cancels this caller's wait (not the shared load).</param>
    /// <returns>The value. An L1 hit completes synchronously and allocates nothing.</returns>
    /// <exception cref="CacheTimeoutException">The factory exceeded <see cref="MultiTierEntryOptions.FactoryTimeout"/> and no stale value was kept.</exception>
    public ValueTask<T> GetOrSetAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ThrowIfDisposed();
        if (_l1 is not null)
        {
            if ((options ?? _defaults).EagerRefreshThreshold is null)
            {
                if (TryGetMemory(_l1, key, out T local))
                {
                    return new ValueTask<T>(local);
                }
            }
            else if (TryGetAgeing(_l1, key, state, factory, options ?? _defaults, out T held))
            {
                return new ValueTask<T>(held);
            }
        }

        CacheKeyRules.Validate(key, _maxKeyBytes, _allowSpaces, limitNote: _keyLimitNote);
        return GetOrSetSlowAsync(key, state, factory, Resolve(options), cancellationToken);
    }

    /// <summary>Gets a value, or loads it once with <paramref name="factory"/> and stores it. See <see cref="GetOrSetAsync{TState, T}"/>.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="factory">Loads the value when no tier has it.</param>
    /// <param name="options">The entry settings; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels this caller's wait.</param>
    /// <returns>The value.</returns>
    public ValueTask<T> GetOrSetAsync<T>(string key, Func<CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return GetOrSetAsync(key, factory, static (f, ct) => f(ct), options, cancellationToken);
    }

    /// <summary>
    /// Joins the key's load, or leads it. Not an async method: a caller's wait is the load's own task (or the flight's),
    /// so an L1 miss costs one async frame here, the load's.
    /// </summary>
    private ValueTask<T> GetOrSetSlowAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_inflight.TryGetValue(key, out var existing))
            {
                // A load of the same key under another type is under way: load on our own rather than mix types. So
                // too past a load a write has superseded: its value is older than that write, which may have returned
                // before this call began (the tiers hold the write's value).
                return existing switch
                {
                    ISupersedable { IsSuperseded: true } => new ValueTask<T>(Wait(LoadAsync(key, state, factory, options, flight: null), cancellationToken)),
                    Flight<T> joined => Join(joined, key, options, cancellationToken),
                    BatchFlight<T> batch => JoinBatchAsync(batch, key, state, factory, options, cancellationToken),
                    _ => new ValueTask<T>(Wait(LoadAsync(key, state, factory, options, flight: null), cancellationToken)),
                };
            }

            var mine = new Flight<T>();
            if (_inflight.TryAdd(key, mine))
            {
                // The leader waits on its own load, not on the flight: the load's completion resumes it inline, where the
                // flight (completed asynchronously, for the joiners' sake) would cost a thread-pool hop on every L1 miss.
                return new ValueTask<T>(Wait(LoadAsync(key, state, factory, options, mine), cancellationToken));
            }
        }
    }

    /// <summary>Waits for a batch's load of the key; if its factory left the key out, loads it as a single key.</summary>
    private async ValueTask<T> JoinBatchAsync<TState, T>(BatchFlight<T> batch, string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        var result = await WaitJoinedAsync(batch.Task, key, options, static (T stale) => new CacheResult<T>(stale), cancellationToken).ConfigureAwait(false);
        return result.HasValue ? result.Value : await GetOrSetSlowAsync(key, state, factory, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The caller's wait for its load; a caller that stops waiting leaves the load running, and its failure is still observed.</summary>
    private static Task<T> Wait<T>(Task<T> task, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled || task.IsCompleted)
        {
            return task;
        }

        ObserveFailure(task);
        return task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Waits for another caller's load of the key. With a <see cref="MultiTierEntryOptions.FactoryTimeout"/> the wait
    /// is bounded by it, from when this caller joined: a load whose factory outlived its leader's timeout stays in
    /// flight until the factory ends, and later callers join it rather than start factories of their own.
    /// </summary>
    private ValueTask<T> Join<T>(Flight<T> flight, string key, MultiTierEntryOptions options, CancellationToken cancellationToken) =>
        options.FactoryTimeout is not null && !flight.Task.IsCompleted
            ? WaitJoinedAsync(flight.Task, key, options, static (T stale) => stale, cancellationToken)
            : new ValueTask<T>(Wait(flight.Task, cancellationToken));

    /// <summary>Waits for a load this call joined (a single key's or a batch's), bounded by the caller's own <see cref="MultiTierEntryOptions.FactoryTimeout"/>.</summary>
    private async ValueTask<TResult> WaitJoinedAsync<T, TResult>(Task<TResult> load, string key, MultiTierEntryOptions options, Func<T, TResult> fromStale, CancellationToken cancellationToken)
    {
        if (options.FactoryTimeout is not { } timeout || load.IsCompleted)
        {
            return await Wait(load, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await load.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            // The load ended as the wait timed out (or failed with a TimeoutException of its own): its outcome wins.
            if (load.IsCompleted)
            {
                return await load.ConfigureAwait(false);
            }

            if (TryGetStale<T>(key, options, out var stale))
            {
                return fromStale(stale);
            }

            throw new CacheTimeoutException($"The load of {TaiCacheDiagnostics.DescribeKey(key)} this call joined did not finish within {timeout}; it keeps running and its value will be stored.", key, e);
        }
    }

    /// <summary>
    /// The shared load: L1 again, the lower tiers, then the factory. Completes <paramref name="flight"/> (when leading
    /// one) for the joiners, and returns (or throws) to the leader itself.
    /// </summary>
    private async Task<T> LoadAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, Flight<T>? flight)
    {
        try
        {
            T value;
            var refresh = false;
            var l1Mark = L1Mark(); // a write of the key from here on wins over what this load finds or computes

            // The caller's own L1 read already counted its miss: the recheck (another load may just have filled the key)
            // is not counted again.
            if (_l1 is not null && TryGetMemory(_l1, key, out T local, MemoryRead.Recheck))
            {
                value = local;
            }
            else
            {
                // The tiers are read without the dispose token: every tier call is bounded by its own timeout, and a
                // token that can be cancelled makes each remote call register on it (StackExchange.Redis takes none,
                // so the wait is wrapped in WaitAsync); all loads sharing one token made that registration a lock
                // every L2 hit contended for.
                var failedTiers = new StrongBox<ulong>();
                var read = await ReadLowerAsync<T>(key, options, staleOnFailure: false, failedTiers, l1Mark, CancellationToken.None).ConfigureAwait(false);
                refresh = read.HasValue && IsRefreshDue(options, read.ExpiresAtUnixMs);
                value = read.HasValue ? read.Value : await LoadFromFactoryAsync(key, state, factory, options, failedTiers.Value, flight, l1Mark).ConfigureAwait(false);
            }

            // A flight handed to a factory that outlived its timeout ends with that factory, not with the stale value.
            if (flight is { HandedOff: false })
            {
                _inflight.TryRemove(new KeyValuePair<string, object>(key, flight));
                flight.TrySetResult(value);
            }

            if (refresh)
            {
                StartRefresh(key, state, factory, options); // a lower tier's hit near its expiry
            }

            return value;
        }
        catch (Exception e) when (flight is { HandedOff: false })
        {
            EndFlight(key, flight, e);
            throw;
        }
    }

    /// <summary>Removes a failed load from the in-flight table and fails its joiners.</summary>
    private void EndFlight<T>(string key, Flight<T> flight, Exception e)
    {
        _inflight.TryRemove(new KeyValuePair<string, object>(key, flight));
        flight.TrySetException(e);

        // The leader observes the failure through its own task; a flight nobody joined must not report it again as
        // an unobserved task exception.
        _ = flight.Task.Exception;
    }

    /// <summary>Runs the factory (with timeout and fail-safe) for a key no tier holds, then stores its value.</summary>
    /// <param name="key">The key.</param>
    /// <param name="state">The factory's state.</param>
    /// <param name="factory">The factory.</param>
    /// <param name="options">The entry settings.</param>
    /// <param name="failedTiers">The tiers whose read just failed (a bit per tier): not waited on again for the write.</param>
    /// <param name="flight">The load's flight, if it leads one: on a timeout it is handed to the factory still running.</param>
    /// <param name="l1Mark">L1's <see cref="InMemoryTier.WriteMark"/> when the load started: a write of the key since
    /// (here, or a peer's, whose invalidation removed it from L1) supersedes the load.</param>
    /// <param name="refresh">Whether this is an eager refresh, whose value replaces the one the tiers hold (a load's only fills them).</param>
    private async Task<T> LoadFromFactoryAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions options, ulong failedTiers, Flight<T>? flight, long l1Mark, bool refresh = false)
    {
        var abandon = HardTimeoutSource(options);
        var factoryTask = RunFactoryAsync(state, factory, abandon?.Token ?? _disposeCts.Token);
        var firstWait = options.FactoryTimeout ?? options.FactoryHardTimeout;
        T value;
        try
        {
            value = firstWait is { } wait && !factoryTask.IsCompleted
                ? await factoryTask.WaitAsync(wait, _time).ConfigureAwait(false)
                : await factoryTask.ConfigureAwait(false);
        }
        catch (TimeoutException e) when (firstWait is not null && !IsFaultOf(factoryTask, e))
        {
            if (options.FactoryHardTimeout is { } hard && hard <= firstWait)
            {
                // The hard timeout, reached now: the load ends here (LoadAsync takes it out of flight) without the value.
                var abandoned = Abandon(key, 1, factoryTask, abandon, hard, e);
                return TryGetStale<T>(key, options, out var staleNow) ? staleNow : throw abandoned;
            }

            Log.FactoryTimedOut(_logger, Name, key, options.FactoryTimeout!.Value);
            if (flight is not null)
            {
                flight.HandedOff = true;
            }

            _ = StoreWhenDoneAsync(key, factoryTask, options, flight, abandon, l1Mark, refresh);
            if (TryGetStale<T>(key, options, out var stale))
            {
                return stale;
            }

            throw new CacheTimeoutException($"The factory for {TaiCacheDiagnostics.DescribeKey(key)} did not finish within {options.FactoryTimeout}; it keeps running and its value will be stored{(options.FactoryHardTimeout is { } limit ? $" if it finishes within its hard timeout {limit}" : string.Empty)}.", key, e);
        }
        catch (Exception) when (!refresh && TryGetStale<T>(key, options, out var stale))
        {
            // Not for a refresh: its readers have the held value already, and its failure is logged as a refresh's.
            ReleaseWhenDone(factoryTask, abandon);
            return stale;
        }
        catch
        {
            ReleaseWhenDone(factoryTask, abandon);
            throw;
        }

        abandon?.Dispose();

        // A stalled tier costs one TierTimeout per call, not two.
        await StoreUnlessSupersededAsync(key, value, options, flight, l1Mark, failedTiers, refresh).ConfigureAwait(false);
        return value;
    }

    /// <summary>Tells a task's own failure from the timeout of a wait on it.</summary>
    private static bool IsFaultOf(Task task, Exception e) => task.IsFaulted && task.Exception!.InnerExceptions.Contains(e);

    private static async Task<T> RunFactoryAsync<TState, T>(TState state, Func<TState, CancellationToken, ValueTask<T>> factory, CancellationToken cancellationToken) =>
        await factory(state, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Under <see cref="MultiTierEntryOptions.FactoryHardTimeout"/>, the source of the factory's token: the cache's
    /// dispose token, linked so that abandoning the load cancels it too. <see langword="null"/> without a hard timeout.
    /// </summary>
    private CancellationTokenSource? HardTimeoutSource(MultiTierEntryOptions options) =>
        options.FactoryHardTimeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(_disposeCts.Token);

    /// <summary>
    /// Gives up a factory that ran past its hard timeout: cancels its token, leaves its eventual outcome unobserved by
    /// the cache (its value is never stored) and returns the exception its waiters get.
    /// </summary>
    private CacheTimeoutException Abandon(string key, int keys, Task factoryTask, CancellationTokenSource? source, TimeSpan hardTimeout, Exception timeout)
    {
        Log.FactoryAbandoned(_logger, Name, key, keys, hardTimeout);
        try
        {
            source?.Cancel();
        }
        catch (AggregateException e)
        {
            // A callback the factory registered on its token threw: the factory's own business, logged as its failure.
            Log.BackgroundFactoryFailed(_logger, Name, key, e);
        }

        ReleaseWhenDone(factoryTask, source);
        var what = keys == 1 ? $"The factory for {TaiCacheDiagnostics.DescribeKey(key)}" : $"The batch factory for {keys} keys (first {TaiCacheDiagnostics.DescribeKey(key)})";
        return new CacheTimeoutException($"{what} did not finish within its hard timeout {hardTimeout}; its token was cancelled and its value will not be stored.", key, timeout);
    }

    /// <summary>Disposes a factory's token source once the factory has finished (it may still use the token until then), and observes its failure.</summary>
    private static void ReleaseWhenDone(Task factoryTask, CancellationTokenSource? source)
    {
        if (source is null)
        {
            return;
        }

        _ = factoryTask.ContinueWith(
            static (t, s) =>
            {
                _ = t.Exception;
                ((CancellationTokenSource)s!).Dispose();
            },
            source,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// Stores the value of a factory that outlived its timeout, then ends the flight it was handed (if any). Past the
    /// hard timeout (when set) the factory is abandoned instead, and the flight fails with the timeout.
    /// </summary>
    private async Task StoreWhenDoneAsync<T>(string key, Task<T> factoryTask, MultiTierEntryOptions options, Flight<T>? flight, CancellationTokenSource? abandon, long l1Mark, bool refresh)
    {
        try
        {
            T value;
            var left = options.FactoryHardTimeout - options.FactoryTimeout;
            try
            {
                value = left is { } wait && !factoryTask.IsCompleted
                    ? await factoryTask.WaitAsync(wait, _time).ConfigureAwait(false)
                    : await factoryTask.ConfigureAwait(false);
            }
            catch (TimeoutException e) when (left is not null && !IsFaultOf(factoryTask, e))
            {
                var abandoned = Abandon(key, 1, factoryTask, abandon, options.FactoryHardTimeout!.Value, e);
                if (flight is not null)
                {
                    EndFlight(key, flight, abandoned);
                }

                return;
            }

            abandon?.Dispose();
            await StoreUnlessSupersededAsync(key, value, options, flight, l1Mark, failedTiers: 0, refresh).ConfigureAwait(false);

            if (flight is not null)
            {
                _inflight.TryRemove(new KeyValuePair<string, object>(key, flight));
                flight.TrySetResult(value);
            }
        }
        catch (Exception e)
        {
            if (!IsDisposed)
            {
                Log.BackgroundFactoryFailed(_logger, Name, key, e); // disposal cancels the factory's token: not a failure
            }

            abandon?.Dispose();
            if (flight is not null)
            {
                EndFlight(key, flight, e);
            }
        }
    }

    /// <summary>
    /// Stores a factory's value unless a write of the key came since the load began (its flight superseded, here or by
    /// a peer's invalidation; L1's write marks since <paramref name="l1Mark"/>, which also catch a write that began
    /// before the load and found no flight to supersede). An eager refresh's value replaces the tiers', so a write that
    /// comes while it stores waits for it (its flight's <see cref="SupersedeGate"/>). L1's marks answer "maybe" for a
    /// whole stripe past their capacity (1,024 recent writes), so on a busy cache a slow refresh may be dropped; the
    /// next read in the window starts another.
    /// </summary>
    private async ValueTask StoreUnlessSupersededAsync<T>(string key, T value, MultiTierEntryOptions options, Flight<T>? flight, long l1Mark, ulong failedTiers, bool refresh)
    {
        if (!refresh || flight is null)
        {
            if (flight is not { IsSuperseded: true } && !WrittenSince(key, l1Mark))
            {
                await StoreLoadedAsync(key, value, options, l1Mark, failedTiers).ConfigureAwait(false);
                CountFactoryStore(1);
            }

            return;
        }

        if (BeginRefreshStore(flight, key, l1Mark) is not { } storing)
        {
            return;
        }

        try
        {
            await StoreLoadedAsync(key, value, options, l1Mark, failedTiers, refresh: true).ConfigureAwait(false);
            CountFactoryStore(1);
        }
        finally
        {
            storing.TrySetResult();
        }
    }

    /// <summary>Stores a factory's value: every tier, best effort below L1 (a read never fails because a tier would not
    /// take a copy); L1 drops it if the key was written there since <paramref name="l1Mark"/>. An eager refresh's value
    /// (<paramref name="refresh"/>) replaces the one the tiers hold instead (see <see cref="StoreRefreshedAsync"/>).</summary>
    private async ValueTask StoreLoadedAsync<T>(string key, T value, MultiTierEntryOptions options, long l1Mark, ulong skipTiers = 0, bool refresh = false)
    {
        if (IsDisposed)
        {
            return;
        }

        KeepForFailSafe(key, value, options);
        if (refresh)
        {
            await StoreRefreshedAsync(key, value, options, skipTiers).ConfigureAwait(false);
            return;
        }

        if (_writeBehind is not null)
        {
            FillMemoryTiers(key, value, options, l1Mark);
            if (!options.SkipDistributedWrite)
            {
                _writeBehind.TryEnqueueFill(key, value, options.Ttl, l1Mark);
            }

            return;
        }

        // Bounded by the tiers' timeouts, as the read was (see LoadAsync).
        await WriteDownAsync(key, value, options, bestEffort: true, skipTiers, publish: false, CancellationToken.None, copiedSince: l1Mark).ConfigureAwait(false);
    }

    /// <summary>Counts a factory load whose values are now stored (before its flight completes): a batch that missed
    /// the keys before it reads the lower tiers again rather than load them twice (see <c>LoadManyAsync</c>).</summary>
    private void CountFactoryStore(int stored)
    {
        if (stored > 0)
        {
            Interlocked.Increment(ref _factoryStores);
        }
    }

    /// <summary>
    /// Marks the key's load under way (if any) as superseded by a write the caller is making: a factory's value, read
    /// or computed before that write, must not overwrite it when the factory finishes (for a factory handed off after
    /// its timeout, up to its hard timeout later). The load's callers still get the factory's value. Returns the store
    /// of an eager refresh under way, which the write must wait for (its value replaces the tiers'), or <see langword="null"/>.
    /// </summary>
    private Task? SupersedeLoad(string key) =>
        _inflight.TryGetValue(key, out var load) && load is ISupersedable flight ? flight.Supersede() : null;

    /// <summary>Adds an eager refresh's store under way (from <see cref="SupersedeLoad"/>) to those a batch write waits for.</summary>
    private static void Refreshing(ref List<Task>? refreshing, Task? store)
    {
        if (store is { IsCompleted: false })
        {
            (refreshing ??= []).Add(store);
        }
    }

    /// <summary>Tells whether a write made while the key's load ran supersedes it (see <see cref="SupersedeLoad"/>).</summary>
    private bool IsLoadSuperseded(string key) => _inflight.TryGetValue(key, out var load) && load is ISupersedable { IsSuperseded: true };

    /// <summary>A key's load that a write of the key made meanwhile supersedes: its value is then not stored (see <see cref="SupersedeGate"/>).</summary>
    private interface ISupersedable
    {
        bool IsSuperseded { get; }

        Task? Supersede();

        TaskCompletionSource? TryBeginStore();
    }

    private sealed class Flight<T>() : TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously), ISupersedable
    {
        private SupersedeGate _gate;

        /// <summary>Gets or sets whether the factory outlived its timeout and now ends the flight itself (see <c>StoreWhenDoneAsync</c>).</summary>
        public bool HandedOff { get; set; }

        public bool IsSuperseded => _gate.IsSuperseded;

        public Task? Supersede() => _gate.Supersede();

        public TaskCompletionSource? TryBeginStore() => _gate.TryBeginStore();
    }
}
