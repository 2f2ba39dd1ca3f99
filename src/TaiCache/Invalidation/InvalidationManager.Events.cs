using TaiCache.Metrics;
using System.Collections.Concurrent;

namespace TaiCache.Invalidation;

/// <summary>Event-based and scheduled invalidation.</summary>
public sealed partial class InvalidationManager
{
    private readonly ConcurrentDictionary<string, InvalidationTarget[]> _events = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ITimer, byte> _timers = new();

    /// <summary>Maps a named event to what it invalidates (added to any targets already mapped).</summary>
    /// <param name="eventName">The event name, for example <c>catalog-imported</c>.</param>
    /// <param name="targets">Keys, tags and patterns to invalidate when the event is raised; at least one.</param>
    /// <exception cref="ArgumentException">The name is blank, or <paramref name="targets"/> is empty or holds <see langword="null"/>.</exception>
    public void MapEvent(string eventName, params InvalidationTarget[] targets)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        ArgumentNullException.ThrowIfNull(targets);
        ThrowIfDisposed();
        if (targets.Length == 0)
        {
            throw new ArgumentException($"Mapping event '{eventName}' needs at least one target (InvalidationTarget.ForKey, ForTag or ForPattern); raising it would invalidate nothing.", nameof(targets));
        }

        if (targets.Any(static t => t is null))
        {
            throw new ArgumentException("An event's targets must not contain null.", nameof(targets));
        }

        _events.AddOrUpdate(eventName, _ => [.. targets], (_, existing) => [.. existing, .. targets]);
    }

    /// <summary>Removes an event's mapping.</summary>
    /// <param name="eventName">The event name.</param>
    /// <returns><see langword="true"/> when the event was mapped.</returns>
    public bool UnmapEvent(string eventName)
    {
        ArgumentNullException.ThrowIfNull(eventName);
        return _events.TryRemove(eventName, out _);
    }

    /// <summary>Raises a named event with the default strategy: everything mapped to it, and their dependents, is invalidated in one cascade.</summary>
    /// <param name="eventName">The event name.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt (with no keys when nothing is mapped to the event).</returns>
    public ValueTask<InvalidationReceipt> RaiseEventAsync(string eventName, CancellationToken cancellationToken = default) =>
        RaiseEventAsync(eventName, _options.DefaultStrategy, cancellationToken);

    /// <summary>Raises a named event: everything mapped to it, and their dependents, is invalidated in one cascade.</summary>
    /// <param name="eventName">The event name.</param>
    /// <param name="strategy">How to treat the keys reached.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt (with no keys when nothing is mapped to the event on this instance; that is logged as a warning, event 6009).</returns>
    /// <exception cref="CachePatternTimeoutException">A mapped regular expression timed out; nothing was invalidated.</exception>
    public async ValueTask<InvalidationReceipt> RaiseEventAsync(string eventName, InvalidationStrategy strategy, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        CheckStrategy(strategy);
        ThrowIfDisposed();
        using var activity = StartInvalidateActivity(InvalidationTrigger.Event, strategy);
        try
        {
            var roots = new List<string>();
            var overflowed = false;
            var unlisted = new List<(string Tier, Exception Error)>();
            var tookTags = false;
            if (_events.TryGetValue(eventName, out var targets))
            {
                // Match patterns first: a timeout must leave everything (tags included) in place.
                foreach (var target in targets.Where(static t => t.Kind == InvalidationTrigger.Pattern))
                {
                    var (keys, over) = await MatchAsync(target.Pattern!, unlisted, cancellationToken).ConfigureAwait(false);
                    roots.AddRange(keys);
                    overflowed |= over;
                }

                foreach (var target in targets)
                {
                    if (target.Kind == InvalidationTrigger.Key)
                    {
                        roots.Add(target.Value);
                    }
                    else if (target.Kind == InvalidationTrigger.Tag)
                    {
                        // Taking a tag's keys empties it: from then on the invalidation runs to the end, uncancelled.
                        if (!tookTags)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            tookTags = true;
                        }

                        roots.AddRange(await _store.TakeTaggedKeysAsync(target.Value, CancellationToken.None).ConfigureAwait(false));
                    }
                }
            }
            else
            {
                // Not an error: another instance may map it. But a typo in the name would otherwise fail silently.
                Log.EventNotMapped(_logger, eventName);
            }

            var receipt = await RunAsync(InvalidationTrigger.Event, eventName, roots, strategy, overflowed, tookTags ? CancellationToken.None : cancellationToken, unlisted).ConfigureAwait(false);
            TraceReceipt(activity, receipt);
            return receipt;
        }
        catch (Exception e)
        {
            TaiCacheTelemetry.SetError(activity, e);
            throw;
        }
    }

    /// <summary>
    /// Invalidates a key (and its dependents, with the default strategy) once a delay has passed on the manager's
    /// <see cref="TimeProvider"/>; the receipt's trigger is <see cref="InvalidationTrigger.Ttl"/>. Failures are logged.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="delay">How long from now.</param>
    /// <returns>A handle; dispose it to cancel the scheduled invalidation.</returns>
    public IDisposable ScheduleInvalidation(string key, TimeSpan delay)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(delay);
        ThrowIfDisposed();
        var holder = new TimerHolder(this);
        holder.Timer = _time.CreateTimer(static s => ((ScheduledState)s!).Fire(), new ScheduledState(this, key, holder), delay, Timeout.InfiniteTimeSpan);
        _timers[holder.Timer] = 0;
        if (holder.Fired)
        {
            _timers.TryRemove(holder.Timer, out _); // it fired before it was registered: nothing else would remove it
        }

        return holder;
    }

    private async Task RunScheduledAsync(string key, TimerHolder holder)
    {
        holder.Fired = true;
        if (holder.Timer is { } timer)
        {
            _timers.TryRemove(timer, out _);
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            await RunTracedAsync(InvalidationTrigger.Ttl, key, [key], _options.DefaultStrategy, clearInMemoryTiers: false, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A timer callback has no caller to report to: log and carry on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.ScheduledFailed(_logger, ex, TaiCacheDiagnostics.DescribeKey(key));
        }
    }

    private sealed class ScheduledState(InvalidationManager manager, string key, TimerHolder holder)
    {
        public void Fire() => _ = manager.RunScheduledAsync(key, holder);
    }

    private sealed class TimerHolder(InvalidationManager manager) : IDisposable
    {
        private volatile bool _fired;

        public ITimer? Timer { get; set; }

        /// <summary>Gets or sets whether the timer has fired (possibly before <see cref="Timer"/> was even assigned).</summary>
        public bool Fired
        {
            get => _fired;
            set => _fired = value;
        }

        public void Dispose()
        {
            if (Timer is { } timer)
            {
                manager._timers.TryRemove(timer, out _);
                timer.Dispose();
            }
        }
    }
}
