using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TaiCache.Tiering.WriteBehind;

namespace TaiCache.Tiering;

/// <summary>
/// A cache over ordered tiers, fastest first (L1 memory, L2 distributed, L3 persistent), with write-through or
/// write-behind writes, read-through or lazy-load reads, stampede protection, batch read-through, fail-safe reads and a
/// circuit breaker per lower tier. It is itself an <see cref="ICacheOps"/>.
/// </summary>
/// <remarks>
/// <para>When L1 is an <see cref="InMemoryTier"/>, an L1 hit of <see cref="GetOrSetAsync{TState, T}"/> completes
/// synchronously and allocates nothing. Values cross a serializer only in the tiers that store bytes.</para>
/// <para>See <c>docs/multi-tier.md</c> for the strategies, fail-safe, the circuit breaker and the write-behind guarantees.</para>
/// </remarks>
public sealed partial class MultiTierCache : ICacheOps, IDisposable, IKeyLimited
{
    private readonly MultiTierCacheOptions _options;
    private readonly TierSlot[] _slots;
    private readonly ulong _distributedTiers; // a bit per tier that is not a memory tier
    private readonly InMemoryTier? _l1;
    private readonly int _firstRemote;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MultiTierEntryOptions _defaults;
    private readonly InMemoryTier _stale;
    private readonly ConcurrentDictionary<string, object> _inflight = new(StringComparer.Ordinal);

    /// <summary>How many factory loads have stored their values; read by batches to know whether to read again.</summary>
    private long _factoryStores;
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly WriteBehindQueue? _writeBehind;
    private readonly int _maxKeyBytes;
    private readonly string _keyLimitNote;
    private readonly bool _allowSpaces;
    private int _disposed;

    /// <summary>Initializes a cache over the tiers in <paramref name="options"/>.</summary>
    /// <param name="options">The options; validated and copied.</param>
    /// <exception cref="ArgumentException">An option is missing or out of range.</exception>
    public MultiTierCache(MultiTierCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _time = _options.TimeProvider;
        _logger = _options.Logger ?? NullLogger.Instance;
        _defaults = _options.DefaultEntryOptions;
        var tiers = options.Tiers.ToArray();
        if (tiers.Length > 30)
        {
            throw new ArgumentException("MultiTierCacheOptions.Tiers holds more than 30 tiers.", nameof(options));
        }

        _slots = new TierSlot[tiers.Length];
        for (var i = 0; i < tiers.Length; i++)
        {
            CircuitBreaker? breaker = null;
            if (tiers[i] is not InMemoryTier && _options.CircuitBreakerFailureThreshold > 0)
            {
                breaker = new CircuitBreaker(_options.CircuitBreakerFailureThreshold, _options.CircuitBreakerBreakDuration, _time);
            }

            var slot = new TierSlot(tiers[i], i, breaker, _time);
            if (breaker is not null)
            {
                breaker.StateChanged += state => Log.CircuitStateChanged(_logger, Name, slot.Name, state);
            }

            _slots[i] = slot;
        }

        for (var i = 0; i < _slots.Length; i++)
        {
            _distributedTiers |= _slots[i].Memory is null ? TierBit(i) : 0;
        }

        _l1 = _slots[0].Memory;
        _firstRemote = _l1 is null ? 0 : 1;
        (_maxKeyBytes, _keyLimitNote) = KeyLimit(_options, tiers);
        _allowSpaces = Array.TrueForAll(tiers, t => t is not IKeyLimited { AllowsSpaces: false });
        _stale = new InMemoryTier(new InMemoryTierOptions
        {
            Name = _options.Name + ":failsafe",
            MaximumSize = _options.FailSafeMaxEntries,
            TimeProvider = _time,
            MaxKeyBytes = _maxKeyBytes,
        });

        if (_options.WriteStrategy == WriteStrategy.WriteBehind)
        {
            _writeBehind = new WriteBehindQueue(this, _options.WriteBehind);
            _writeBehind.Start();
        }

        WatchPeerWrites();
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <summary>
    /// Gets the longest key the cache accepts, in UTF-8 bytes: <see cref="MultiTierCacheOptions.MaxKeyBytes"/>, or the
    /// smallest limit of the built-in tiers and the coherence (1024 when none of the tiers is built in).
    /// </summary>
    public int MaxKeyBytes => _maxKeyBytes;

    /// <inheritdoc />
    string IKeyLimited.KeyLimitOption => $"the key limit of cache '{Name}' ({_keyLimitNote})";

    /// <inheritdoc />
    /// <remarks>False when any tier refuses spaces (a memcached tier): the cache refuses them before any tier is written.</remarks>
    bool IKeyLimited.AllowsSpaces => _allowSpaces;

    /// <summary>The cache's key limit and where it comes from (for the message of a key over it).</summary>
    private static (int MaxKeyBytes, string Note) KeyLimit(MultiTierCacheOptions options, ICacheOps[] tiers)
    {
        if (options.MaxKeyBytes is { } set)
        {
            return (set, "MultiTierCacheOptions.MaxKeyBytes");
        }

        var limit = int.MaxValue;
        string? note = null;
        foreach (var tier in tiers)
        {
            if (tier is IKeyLimited limited && limited.MaxKeyBytes < limit)
            {
                limit = limited.MaxKeyBytes;
                note = $"{limited.KeyLimitOption} of tier '{tier.Name}', the smallest limit of the cache's tiers";
            }
        }

        if (options.Coherence is IKeyLimited coherence && coherence.MaxKeyBytes < limit)
        {
            limit = coherence.MaxKeyBytes;
            note = $"{coherence.KeyLimitOption} of the cache's coherence";
        }

        return note is null ? (CacheKeyRules.DefaultMaxKeyBytes, "the default: no tier is built in; see MultiTierCacheOptions.MaxKeyBytes") : (limit, note);
    }

    /// <summary>Gets the tiers, fastest first, for plain per-tier reads and writes (lazy-load use).</summary>
    public IReadOnlyList<ICacheOps> Tiers => Array.ConvertAll(_slots, s => s.Ops);

    /// <summary>Gets the write strategy.</summary>
    public WriteStrategy WriteStrategy => _options.WriteStrategy;

    /// <summary>Gets the read strategy.</summary>
    public ReadStrategy ReadStrategy => _options.ReadStrategy;

    /// <summary>Gets the state of the circuit breaker around a tier (<see cref="CircuitState.Closed"/> for tiers without one, such as memory tiers).</summary>
    /// <param name="tierIndex">The tier's position, 0 for L1.</param>
    /// <returns>The breaker's state.</returns>
    public CircuitState GetCircuitState(int tierIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tierIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tierIndex, _slots.Length);
        return _slots[tierIndex].Breaker?.State ?? CircuitState.Closed;
    }

    /// <summary>
    /// Disposes the cache synchronously: blocks on <see cref="DisposeAsync"/> (the write-behind drain included), run on
    /// the thread pool so no synchronization context is captured. Prefer <see cref="DisposeAsync"/>; this is here for a
    /// synchronously disposed service provider, which would otherwise refuse a service that is only asynchronously disposable.
    /// </summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        Task.Run(async () => await DisposeAsync().ConfigureAwait(false)).GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    /// <remarks>Under write-behind, drains the queue for up to <see cref="WriteBehindOptions.DrainTimeout"/> first; writes
    /// left over are logged, put in the dead-letter sink, and kept in the journal when there is one.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        UnwatchPeerWrites();
        if (_writeBehind is not null)
        {
            await _writeBehind.DisposeAsync().ConfigureAwait(false);
        }

        await _disposeCts.CancelAsync().ConfigureAwait(false);
        _disposeCts.Dispose();
        await _stale.DisposeAsync().ConfigureAwait(false);
        if (_options.OwnsTiers)
        {
            foreach (var slot in _slots)
            {
                await slot.Ops.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    internal TierSlot[] Slots => _slots;

    internal int FirstRemote => _firstRemote;

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal WriteBehindQueue? WriteBehindQueue => _writeBehind;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>The per-call options, checked (a bad TTL or timeout is refused before any tier or factory sees it), or the defaults.</summary>
    private MultiTierEntryOptions Resolve(MultiTierEntryOptions? options)
    {
        if (options is null)
        {
            return _defaults;
        }

        options.Validate();
        return options;
    }

    private MultiTierEntryOptions ForTtl(TimeSpan? ttl) => ttl is null ? _defaults : _defaults.WithTtl(ttl);
}
