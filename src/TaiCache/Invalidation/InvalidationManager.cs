using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TaiCache.Metrics;

namespace TaiCache.Invalidation;

/// <summary>
/// Invalidates keys and everything that depends on them, across every tier it is given (an <see cref="InMemoryTier"/>,
/// a Redis cache, a multi-tier cache — any <see cref="ICacheOps"/>), and returns an <see cref="InvalidationReceipt"/>
/// saying what was reached and how.
/// </summary>
/// <remarks>
/// <para>Triggers: a key (<see cref="InvalidateAsync(string, CancellationToken)"/>), a tag
/// (<see cref="InvalidateTagAsync(string, CancellationToken)"/>), a glob or regex pattern
/// (<see cref="InvalidatePatternAsync(CacheKeyPattern, CancellationToken)"/>), a named event
/// (<see cref="RaiseEventAsync(string, CancellationToken)"/>), a scheduled time
/// (<see cref="ScheduleInvalidation(string, TimeSpan)"/>), a namespace version bump. Strategies: see
/// <see cref="InvalidationStrategy"/>.</para>
/// <para>Tiers are processed from the last (the most shared, e.g. Redis) to the first (L1), so a concurrent reader
/// cannot refill L1 from a lower tier that still holds the old value.</para>
/// <para>The dependency graph and tags live in process, or in Redis sets (<see cref="InvalidationManagerOptions.Redis"/>)
/// so that a cascade started on one instance reaches dependents another instance registered.</para>
/// </remarks>
public sealed partial class InvalidationManager : IAsyncDisposable
{
    private const int Chunk = 256;

    private readonly ICacheOps[] _tiers;
    private readonly ICacheOps[] _leaves;
    private readonly InvalidationManagerOptions _options;
    private readonly IInvalidationStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly KeyTracker _tracker;
    private readonly StaleMarks _stale = new();
    private readonly EventHandler<CacheEvictionEventArgs> _onEvicted;

    /// <summary>Whether a tier other than memory cannot list its keys (memcached): a key memory tiers evict may live on there, so it stays tracked.</summary>
    private readonly bool _unlistedRemote;

    private readonly InMemoryTier[] _memoryLeaves;
    private int _disposed;

    /// <summary>Initializes a manager over tiers.</summary>
    /// <param name="tiers">The tiers, nearest first (L1, then L2, ...). Not owned: the caller disposes them.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">The logger; <see langword="null"/> for none.</param>
    public InvalidationManager(IReadOnlyList<ICacheOps> tiers, InvalidationManagerOptions? options = null, ILogger<InvalidationManager>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        if (tiers.Count == 0 || tiers.Any(static t => t is null))
        {
            throw new ArgumentException("An invalidation manager needs at least one tier, and no null tier.", nameof(tiers));
        }

        _tiers = [.. tiers];
        _options = (options ?? new InvalidationManagerOptions()).Clone();
        _options.Validate();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = _options.TimeProvider;
        InstanceId = _options.InstanceId ?? _options.Broadcaster?.InstanceId ?? Guid.NewGuid().ToString("N")[..12];
        AuditLog = _options.AuditLog ?? new InvalidationAuditLog();
        if (_options.Redis is { } redis)
        {
            _store = new RedisInvalidationStore(redis, _options.RedisKeyPrefix, _options.RedisDatabase, _time);
        }
        else
        {
            Graph = new DependencyGraph(_options.MaxCascadeDepth);
            _store = new InMemoryInvalidationStore(Graph, _time);
        }

        _tracker = new KeyTracker(_options.MaxTrackedKeys);
        _leaves = [.. TierKeySource.Leaves(_tiers)];
        _unlistedRemote = _leaves.Any(static l => l is not InMemoryTier && !TierKeySource.CanList(l));
        _memoryLeaves = [.. _leaves.OfType<InMemoryTier>()];
        _onEvicted = OnEvicted;
        foreach (var tier in _leaves.OfType<InMemoryTier>())
        {
            tier.Evicted += _onEvicted;
        }
    }

    /// <summary>Gets this instance's id, stamped on receipts (and on broadcasts).</summary>
    public string InstanceId { get; }

    /// <summary>Gets the tiers, nearest first.</summary>
    public IReadOnlyList<ICacheOps> Tiers => _tiers;

    /// <summary>Gets the audit log receiving this manager's receipts.</summary>
    public InvalidationAuditLog AuditLog { get; }

    /// <summary>Gets the in-process dependency graph, or <see langword="null"/> when the graph lives in Redis.</summary>
    public DependencyGraph? Graph { get; }

    /// <summary>Records that <paramref name="dependent"/> depends on <paramref name="dependency"/>: invalidating the dependency invalidates the dependent.</summary>
    /// <param name="dependent">The key derived from the dependency.</param>
    /// <param name="dependency">The key it is derived from.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns><see langword="true"/> when the edge is new.</returns>
    public ValueTask<bool> AddDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(dependent);
        CacheKeyRules.Validate(dependency);
        ThrowIfDisposed();
        if (string.Equals(dependent, dependency, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The cache {TaiCacheDiagnostics.DescribeKey(dependent)} cannot depend on itself.", nameof(dependent));
        }

        Track(dependent);
        Track(dependency);
        return _store.AddDependencyAsync(dependent, dependency, cancellationToken);
    }

    /// <summary>Removes the edge "<paramref name="dependent"/> depends on <paramref name="dependency"/>".</summary>
    /// <param name="dependent">The dependent key.</param>
    /// <param name="dependency">The key it depended on.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns><see langword="true"/> when the edge existed.</returns>
    public ValueTask<bool> RemoveDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(dependent);
        CacheKeyRules.Validate(dependency);
        ThrowIfDisposed();
        return _store.RemoveDependencyAsync(dependent, dependency, cancellationToken);
    }

    /// <summary>Forgets every dependency edge into and out of a key (its cached value is left alone).</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns>A task that completes when the edges are gone.</returns>
    public ValueTask RemoveDependenciesOfAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        ThrowIfDisposed();
        return _store.RemoveKeyAsync(key, cancellationToken);
    }

    /// <summary>Walks every key that depends, directly or transitively, on a key, without invalidating anything.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    /// <returns>The keys reached, their paths, and any cycles.</returns>
    public async ValueTask<DependencyTraversal> GetDependentsAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        ThrowIfDisposed();
        var walker = new CascadeWalker([key], _options.MaxCascadeDepth);
        await _store.WalkAsync(walker, cancellationToken).ConfigureAwait(false);
        return walker.ToTraversal();
    }

    /// <summary>Invalidates a key and everything that depends on it, with <see cref="InvalidationManagerOptions.DefaultStrategy"/>.</summary>
    /// <param name="key">The key that changed.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt.</returns>
    public ValueTask<InvalidationReceipt> InvalidateAsync(string key, CancellationToken cancellationToken = default) =>
        InvalidateAsync(key, _options.DefaultStrategy, cancellationToken);

    /// <summary>Invalidates a key and everything that depends on it.</summary>
    /// <param name="key">The key that changed.</param>
    /// <param name="strategy">How to treat the keys reached.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt.</returns>
    public ValueTask<InvalidationReceipt> InvalidateAsync(string key, InvalidationStrategy strategy, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        CheckStrategy(strategy);
        ThrowIfDisposed();
        return RunTracedAsync(InvalidationTrigger.Key, key, [key], strategy, clearInMemoryTiers: false, cancellationToken);
    }

    /// <summary>Invalidates several keys and everything that depends on any of them, in one cascade and one receipt.</summary>
    /// <param name="keys">The keys that changed; all are validated before anything is invalidated.</param>
    /// <param name="strategy">How to treat the keys reached; <see langword="null"/> for the default.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt (trigger <see cref="InvalidationTrigger.Key"/>, value: the keys joined by commas).</returns>
    public ValueTask<InvalidationReceipt> InvalidateManyAsync(IEnumerable<string> keys, InvalidationStrategy? strategy = null, CancellationToken cancellationToken = default)
    {
        var roots = CacheKeyRules.ValidateAll(keys);
        var s = strategy ?? _options.DefaultStrategy;
        CheckStrategy(s);
        ThrowIfDisposed();
        return RunTracedAsync(InvalidationTrigger.Key, string.Join(',', roots), roots, s, clearInMemoryTiers: false, cancellationToken);
    }

    /// <summary>Drops every entry of a namespace by bumping its version (no key is listed or removed; old entries expire).</summary>
    /// <param name="cacheNamespace">The namespace.</param>
    /// <param name="cancellationToken">Cancels the wait for the version store.</param>
    /// <returns>The receipt (trigger <see cref="InvalidationTrigger.Namespace"/>, no keys).</returns>
    public async ValueTask<InvalidationReceipt> InvalidateNamespaceAsync(CacheNamespace cacheNamespace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cacheNamespace);
        ThrowIfDisposed();
        using var activity = StartInvalidateActivity(InvalidationTrigger.Namespace, InvalidationStrategy.Eager);
        try
        {
            var start = _time.GetTimestamp();
            var now = _time.GetUtcNow();
            await cacheNamespace.InvalidateAsync(cancellationToken).ConfigureAwait(false);
            var receipt = new InvalidationReceipt(Guid.CreateVersion7(now), now, InvalidationTrigger.Namespace, cacheNamespace.Prefix, InvalidationStrategy.Eager, [], [], false, InstanceId, _time.GetElapsedTime(start), [], []);
            await AuditLog.RecordAsync(receipt, cancellationToken).ConfigureAwait(false);
            TraceReceipt(activity, receipt);
            return receipt;
        }
        catch (Exception e)
        {
            TaiCacheTelemetry.SetError(activity, e);
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        foreach (var tier in _leaves.OfType<InMemoryTier>())
        {
            tier.Evicted -= _onEvicted;
        }

        foreach (var timer in _timers.Keys)
        {
            timer.Dispose();
        }

        _timers.Clear();
        return ValueTask.CompletedTask;
    }

    private static void CheckStrategy(InvalidationStrategy strategy)
    {
        if (!Enum.IsDefined(strategy))
        {
            throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Not a known invalidation strategy.");
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void Track(string key)
    {
        if (!_tracker.Add(key))
        {
            Log.TrackingOverflowed(_logger, _options.MaxTrackedKeys);
        }
    }

    private void OnEvicted(object? sender, CacheEvictionEventArgs e)
    {
        // A key L1 let go of may still live in another tier that cannot list its keys (memcached, a second memory
        // tier): the tracking is then the only way a pattern finds it there, so it is kept (bounded by MaxTrackedKeys).
        if (e.Reason == EvictionReason.Replaced || _unlistedRemote)
        {
            return;
        }

        foreach (var tier in _memoryLeaves)
        {
            if (!ReferenceEquals(tier, sender) && tier.GetRemainingTtl(e.Key) is not null)
            {
                return;
            }
        }

        _tracker.Remove(e.Key);
    }
}
