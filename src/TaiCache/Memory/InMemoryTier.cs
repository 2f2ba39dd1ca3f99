using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using TaiCache.Metrics;

namespace TaiCache;

/// <summary>
/// A bounded, in-process cache tier holding objects (no serialization), with TTL, optional sliding expiry, an adaptive,
/// scan-resistant eviction policy, and a synchronous, allocation-free hit path (<see cref="TryGet{T}(string, out T)"/>).
/// </summary>
/// <remarks>
/// <para>
/// The policy is W-TinyLFU (an admission window in front of a segmented main space, admission decided by a count-min
/// frequency sketch) whose window size is tuned by hill climbing on the hit rate. Reads only look the key up and bump a
/// saturating per-entry counter (no lock, no shared buffer, no interlocked write); all policy work happens on writes,
/// under one lock, amortized. See <c>docs/memory.md</c>.
/// </para>
/// <para>Expired entries are never returned; they are reclaimed when read, when the policy meets them, and by a small
/// incremental sweep on each write (no timer per entry). <see cref="Compact(double)"/> reclaims all of them at once.</para>
/// </remarks>
public sealed partial class InMemoryTier : ICacheOps, IBatchReader, IConditionalWriter, IKeyLimited
{
    private readonly NodeTable _map;
    private readonly InMemoryTierOptions _options;
    private readonly TimeProvider _time;
    private readonly bool _coarseClock;
    private readonly long _clockFrequency;
    private readonly MetricsCollector? _metrics;
    private readonly Func<string, object?, long>? _weigher;
    private readonly long _slidingTicks;
    private readonly bool _serialized;

    /// <summary>Initializes a tier.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public InMemoryTier(InMemoryTierOptions? options = null)
    {
        _options = (options ?? new InMemoryTierOptions()).Clone();
        _options.Validate();
        _time = _options.TimeProvider;

        // The system clock's precise timestamp costs ~30 ns a read on some virtual machines, and every hit on an entry
        // with a TTL reads the clock: with the system clock, expiry runs on the OS's millisecond tick instead (~7 ns).
        _coarseClock = ReferenceEquals(_time, TimeProvider.System);
        _clockFrequency = _coarseClock ? 1000 : _time.TimestampFrequency;
        _metrics = _options.Metrics;
        _weigher = _options.Weigher;
        _serialized = _options.StoreSerializedCopies;
        _slidingTicks = _options.SlidingExpiration is { } sliding ? ToTicks(sliding) : 0;
        _map = new NodeTable(_weigher is null ? _options.MaximumSize : 16);
        _stripeWrites = new long[StripesFor(_weigher is null ? _options.MaximumSize : 16_384)];
        _maximum = _options.MaximumSize;
        _sketch = new FrequencySketch(_weigher is null ? _maximum : 1024);
        _windowGhosts = new GhostQueue((long)((_weigher is null ? _maximum : 1024) * GhostShare));
        _mainGhosts = new GhostQueue((long)((_weigher is null ? _maximum : 1024) * GhostShare));
        InitializePolicy();
    }

    /// <summary>Raised when an entry leaves the tier, with the reason. Raised after the tier's lock is released, on the thread whose operation caused it.</summary>
    public event EventHandler<CacheEvictionEventArgs>? Evicted;

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    int IKeyLimited.MaxKeyBytes => _options.MaxKeyBytes;

    /// <inheritdoc />
    string IKeyLimited.KeyLimitOption => "InMemoryTierOptions.MaxKeyBytes";

    /// <inheritdoc />
    bool IKeyLimited.AllowsSpaces => true;

    /// <summary>Gets the number of entries held (expired entries not yet reclaimed included).</summary>
    public long Count => Volatile.Read(ref _publishedCount);

    /// <summary>Gets the total weight held: the sum of the <see cref="InMemoryTierOptions.Weigher"/>'s results, or the entry count without one.</summary>
    public long Weight => Volatile.Read(ref _publishedWeight);

    /// <summary>Gets the capacity (<see cref="InMemoryTierOptions.MaximumSize"/>).</summary>
    public long MaximumSize => _maximum;

    /// <summary>Reads a value without allocating (unless <see cref="InMemoryTierOptions.StoreSerializedCopies"/> is on).</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value on a hit.</param>
    /// <returns><see langword="true"/> on a hit.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidCacheKeyException"><paramref name="key"/> breaks the key rules.</exception>
    /// <exception cref="CacheWrongTypeException">The entry holds a value of another type.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet<T>(string key, [MaybeNullWhen(false)] out T value) => TryGetCore(key, checkKeyOnMiss: true, lenient: false, out value, out _, out _);

    /// <summary>Reads a key a caller already checked against the key rules (a batch): a miss skips the check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryGetChecked<T>(string key, [MaybeNullWhen(false)] out T value) => TryGetCore(key, checkKeyOnMiss: false, lenient: false, out value, out _, out _);

    /// <summary>
    /// Reads for a cache over this tier (<see cref="Tiering.MultiTierCache"/>): a value held under another type is a
    /// miss, reported in <paramref name="wrongType"/> instead of thrown, as a lower tier reads it. A hit counts as one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryGetLenient<T>(string key, bool checkKeyOnMiss, [MaybeNullWhen(false)] out T value, out bool wrongType) =>
        TryGetCore(key, checkKeyOnMiss, lenient: true, out value, out wrongType, out _);

    /// <summary>
    /// <see cref="TryGetLenient{T}(string, bool, out T, out bool)"/> that also tells how long the entry read has left
    /// (<see cref="Timeout.InfiniteTimeSpan"/> without an expiry; its absolute bound on a sliding tier), from the node
    /// the read found: no second lookup.
    /// </summary>
    internal bool TryGetLenient<T>(string key, bool checkKeyOnMiss, [MaybeNullWhen(false)] out T value, out bool wrongType, out TimeSpan remaining)
    {
        if (!TryGetCore(key, checkKeyOnMiss, lenient: true, out value, out wrongType, out var hit))
        {
            remaining = TimeSpan.Zero;
            return false;
        }

        var expires = hit!.AbsoluteExpiresAt;
        remaining = expires == MemoryNode.NoExpiry ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(Math.Max(0, expires - Now()) / (double)_clockFrequency);
        return true;
    }

    /// <summary>
    /// <see cref="TryGetLenient{T}(string, bool, out T, out bool)"/> that also gives the hit's expiry as
    /// <see cref="GetAsync{T}"/> reports it (Unix milliseconds, 0 for never): a tier above that copies it keeps it no longer.
    /// </summary>
    internal bool TryGetLenientWithExpiry<T>(string key, bool checkKeyOnMiss, [MaybeNullWhen(false)] out T value, out bool wrongType, out long expiresAtUnixMs)
    {
        var found = TryGetCore(key, checkKeyOnMiss, lenient: true, out value, out wrongType, out var hit);
        expiresAtUnixMs = found ? ExpiresAtUnixMs(hit!) : 0;
        return found;
    }

    /// <summary>
    /// Reads a key again for a caller whose first read already counted as a miss (a load rechecking L1 before it goes
    /// lower): the policy sees a hit as a read, the metrics see nothing, so one caller's miss is counted once.
    /// </summary>
    internal bool TryGetUncounted<T>(string key, [MaybeNullWhen(false)] out T value, out bool wrongType)
    {
        if (TryFindLive(key, out var node))
        {
            return ReadHit(key, node, lenient: true, out value, out wrongType);
        }

        value = default;
        wrongType = false;
        return false;
    }

    /// <summary>The read behind every <c>TryGet</c>: <paramref name="hit"/> is the entry read, on a hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryGetCore<T>(string key, bool checkKeyOnMiss, bool lenient, [MaybeNullWhen(false)] out T value, out bool wrongType, out MemoryNode? hit)
    {
        if (key is null)
        {
            ThrowNullKey();
        }

        // Metrics count the read up front (one increment, nothing kept across the lookup); a miss is reported as such,
        // every other read is a hit. One read in the sample interval takes the timed path instead.
        var metrics = _metrics;
        if (metrics is not null && metrics.CountRead())
        {
            return TryGetTimed(key, checkKeyOnMiss, lenient, metrics, out value, out wrongType, out hit);
        }

        // A key found in the map was validated when it was stored: only a miss needs the key rules checked.
        if (TryFindLive(key, out var node))
        {
            hit = node;
            return ReadHit(key, node, lenient, out value, out wrongType);
        }

        wrongType = false;
        hit = null;
        return Miss(key, node, checkKeyOnMiss, started: 0, out value);
    }

    /// <summary>The read <see cref="TryGetCore{T}"/> times: one in the collector's sample interval.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryGetTimed<T>(string key, bool checkKeyOnMiss, bool lenient, MetricsCollector metrics, [MaybeNullWhen(false)] out T value, out bool wrongType, out MemoryNode? hit)
    {
        var started = metrics.StartTimingAlways();
        if (TryFindLive(key, out var node))
        {
            metrics.RecordHitLatency(started);
            hit = node;
            return ReadHit(key, node, lenient, out value, out wrongType);
        }

        wrongType = false;
        hit = null;
        return Miss(key, node, checkKeyOnMiss, started, out value);
    }

    /// <summary>Looks a key up; true when its entry is there and not expired (an expired one comes back in <paramref name="node"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryFindLive(string key, [NotNullWhen(true)] out MemoryNode? node) =>
        _map.TryGetValue(key, out node) && (node.ExpiresAt == MemoryNode.NoExpiry || IsLive(node));

    /// <summary>Whether the key holds a live entry, for a write that yields to one (under the lock): not a read, so sliding expiry is not extended.</summary>
    private bool HoldsLive(string key) =>
        _map.TryGetValue(key, out var node) && (node.ExpiresAt == MemoryNode.NoExpiry || node.ExpiresAt > Now());

    /// <summary>
    /// A hit: bumps the entry's saturating hit count and returns its value as <typeparamref name="T"/>. A value of
    /// another type throws <see cref="CacheWrongTypeException"/>, or when <paramref name="lenient"/> returns false with
    /// <paramref name="wrongType"/> set.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadHit<T>(string key, MemoryNode node, bool lenient, [MaybeNullWhen(false)] out T value, out bool wrongType)
    {
        wrongType = false;
        if (node.Hits < MemoryNode.MaxHits)
        {
            node.Hits++;
        }

        if (node.Queue == NodeQueue.Window)
        {
            NoteWindowRead(node);
        }

        var stored = node.Value;

        // An exact type match is checked without a cast helper (the common case in shared generic code);
        // serialized copies, subclasses, interfaces and null take the slow path.
        if (!typeof(T).IsValueType && stored is not null && stored.GetType() == typeof(T) && !_serialized)
        {
            value = Unsafe.As<object, T>(ref stored);
            return true;
        }

        if (TryUnwrap(key, stored, out value, out var held))
        {
            return true;
        }

        if (!lenient)
        {
            ThrowWrongType<T>(key, held);
        }

        wrongType = true;
        return false;
    }

    /// <summary>Stores a value, replacing any under the same key.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value (<see langword="null"/> is a storable value).</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for <see cref="InMemoryTierOptions.DefaultTtl"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidCacheKeyException"><paramref name="key"/> breaks the key rules.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ttl"/> is zero, negative or infinite.</exception>
    /// <exception cref="InvalidOperationException">The <see cref="InMemoryTierOptions.Weigher"/> returned a negative weight.</exception>
    public void Set<T>(string key, T value, TimeSpan? ttl = null) => Store(key, value, ttl, onlyIfAbsent: false);

    /// <summary>Stores a value only when the key holds no live one (an expired entry is replaced).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value (<see langword="null"/> is a storable value).</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for <see cref="InMemoryTierOptions.DefaultTtl"/>.</param>
    /// <returns><see langword="true"/> when stored; <see langword="false"/> when the key held a live value.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidCacheKeyException"><paramref name="key"/> breaks the key rules.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ttl"/> is zero, negative or infinite.</exception>
    public bool TryAdd<T>(string key, T value, TimeSpan? ttl = null) => Store(key, value, ttl, onlyIfAbsent: true);

    /// <summary>Stores a value (with <paramref name="onlyIfAbsent"/>, unless the key holds a live one); true when stored.</summary>
    private bool Store<T>(string key, T value, TimeSpan? ttl, bool onlyIfAbsent)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        CacheKeyRules.ValidateTtl(ttl);
        var node = CreateNode(key, value, ttl, now: 0);
        List<CacheEvictionEventArgs>? events = null;
        bool stored;
        lock (_sync)
        {
            if (onlyIfAbsent && HoldsLive(key))
            {
                return false;
            }

            MarkWritten(node.Key, node.Hash);
            stored = Write(node, ref events);
        }

        _metrics?.RecordSet();
        ReportSize();
        Raise(events);
        return stored; // false for an entry heavier than the tier: rejected at once, nothing stored
    }

    /// <inheritdoc />
    ValueTask<bool> IConditionalWriter.AddAsync<T>(string key, T value, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        Enter(cancellationToken); // disposed or cancelled: nothing stored, as the other ICacheOps calls
        return new(TryAdd(key, value, ttl));
    }

    /// <inheritdoc />
    ValueTask<bool[]> IConditionalWriter.AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        Enter(cancellationToken);
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        foreach (var item in items)
        {
            CacheKeyRules.Validate(item.Key, _options.MaxKeyBytes, paramName: nameof(items));
        }

        // Every entry is built (serialized, in serialized mode) before any is stored: a value that cannot be stored
        // fails the batch with nothing of it added.
        var now = BatchClock(ttl);
        var nodes = new MemoryNode[items.Count];
        for (var i = 0; i < nodes.Length; i++)
        {
            nodes[i] = CreateNode(items[i].Key, items[i].Value, ttl, now);
        }

        var added = new bool[nodes.Length];
        var count = 0;
        List<CacheEvictionEventArgs>? events = null;
        lock (_sync)
        {
            StartLockedOperation();
            for (var i = 0; i < nodes.Length; i++)
            {
                if (!HoldsLive(nodes[i].Key))
                {
                    MarkWritten(nodes[i].Key, nodes[i].Hash);
                    added[i] = WriteStarted(nodes[i], ref events); // false for an entry heavier than the tier
                    count += added[i] ? 1 : 0;
                }
            }
        }

        for (var i = 0; i < count; i++)
        {
            _metrics?.RecordSet();
        }

        ReportSize();
        Raise(events);
        return new(added);
    }

    /// <summary>Stores the hits of a batch read (keys and TTL already checked) under one acquisition of the lock.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys read.</param>
    /// <param name="results">The results aligned with <paramref name="keys"/>; only hits are stored.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for <see cref="InMemoryTierOptions.DefaultTtl"/>.</param>
    /// <param name="mark">The <see cref="WriteMark"/> read before the batch was read: keys written since are not stored.</param>
    internal void SetHits<T>(IReadOnlyList<string> keys, CacheResult<T>[] results, TimeSpan? ttl, long mark)
    {
        var now = BatchClock(ttl);
        long wallClock = 0;
        var drafts = ArrayPool<NodeDraft>.Shared.Rent(results.Length);
        try
        {
            var count = 0;
            for (var i = 0; i < results.Length; i++)
            {
                if (!results[i].HasValue)
                {
                    continue;
                }

                // A copy never outlives the value where it was found (its writer recorded when it expires there).
                var nodeTtl = ttl;
                if (results[i].ExpiresAtUnixMs is var expiresAt and not 0)
                {
                    wallClock = wallClock != 0 ? wallClock : _time.GetUtcNow().ToUnixTimeMilliseconds();
                    var left = expiresAt - wallClock;
                    if (left <= 0)
                    {
                        continue;
                    }

                    nodeTtl = (ttl ?? _options.DefaultTtl) is { } t && t.TotalMilliseconds <= left ? t : TimeSpan.FromMilliseconds(left);
                    now = now != 0 ? now : Now();
                }

                drafts[count++] = DraftNode(keys[i], results[i].Value, nodeTtl, now);
            }

            WriteBatch(drafts.AsSpan(0, count), mark);
        }
        finally
        {
            ArrayPool<NodeDraft>.Shared.Return(drafts, clearArray: true);
        }
    }

    /// <summary>One clock read for a whole batch (the clock is slow on some virtual machines), none without expiry.</summary>
    private long BatchClock(TimeSpan? ttl) => ttl is not null || _options.DefaultTtl is not null || _slidingTicks != 0 ? Now() : 0;

    /// <summary>
    /// Stores a batch of drafted entries under one acquisition of the lock (see <c>WriteBatchStarted</c>): a write
    /// (<paramref name="copiedSince"/> null), or copies read since that <see cref="WriteMark"/>, less the keys written meanwhile.
    /// </summary>
    private void WriteBatch(Span<NodeDraft> drafts, long? copiedSince = null)
    {
        List<CacheEvictionEventArgs>? events = null;
        lock (_sync)
        {
            if (copiedSince is { } mark)
            {
                drafts = drafts[..KeepUnwritten(drafts, mark)];
            }
            else
            {
                MarkWritten(drafts);
            }

            StartLockedOperation();
            WriteBatchStarted(drafts, ref events);
        }

        if (_metrics is not null)
        {
            for (var i = 0; i < drafts.Length; i++)
            {
                _metrics.RecordSet();
            }
        }

        ReportSize();
        Raise(events);
    }

    /// <inheritdoc />
    ValueTask<CacheResult<T>[]> IBatchReader.ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var results = new CacheResult<T>[keys.Count];
        for (var i = 0; i < results.Length; i++)
        {
            if (TryGetCore<T>(keys[i], checkKeyOnMiss: false, lenient: false, out var value, out _, out var hit))
            {
                results[i] = new CacheResult<T>(value, ExpiresAtUnixMs(hit!));
            }
        }

        return new(results);
    }

    /// <summary>Builds an entry; <paramref name="now"/> is a timestamp already read, or 0 to read the clock if the entry expires.</summary>
    private MemoryNode CreateNode<T>(string key, T value, TimeSpan? ttl, long now) => DraftNode(key, value, ttl, now).Build();

    /// <summary>Works out an entry's node without allocating it (see <see cref="NodeDraft"/>); <paramref name="now"/> as for <see cref="CreateNode{T}"/>.</summary>
    private NodeDraft DraftNode<T>(string key, T value, TimeSpan? ttl, long now)
    {
        object? stored = value;
        long weight;
        if (_serialized)
        {
            // The weigher sees the serialized bytes (their length is what the entry costs); the copy is encoded as, and
            // keeps, the value's runtime type, so a read as another type fails as it does without copies and a derived
            // value set as its base type keeps its own members.
            var bytes = RuntimeTypedCopy.Encode(key, value);
            stored = new SerializedCopy(value?.GetType(), bytes);
            weight = Weigh(key, bytes);
        }
        else
        {
            weight = Weigh(key, stored);
        }

        var effectiveTtl = ttl ?? _options.DefaultTtl;
        long absolute = MemoryNode.NoExpiry, expires = MemoryNode.NoExpiry;
        if (effectiveTtl is not null || _slidingTicks != 0)
        {
            now = now != 0 ? now : Now();
            absolute = effectiveTtl is { } t ? AddTicks(now, ToTicks(t)) : MemoryNode.NoExpiry;
            expires = _slidingTicks != 0 ? Math.Min(absolute, AddTicks(now, _slidingTicks)) : absolute;
        }

        return new NodeDraft(key, _map.Hash(key), stored, weight, expires, absolute, Extended: _weigher is not null || _slidingTicks != 0);
    }

    /// <summary>Removes a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when a live entry was removed.</returns>
    public bool Remove(string key)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        List<CacheEvictionEventArgs>? events = null;
        var live = false;
        lock (_sync)
        {
            // Marked even when absent: a copy of an older value on its way here must not land after the removal.
            MarkWritten(key, _map.Hash(key));
            if (_map.TryGetValue(key, out var node))
            {
                live = IsLive(node);
                DropAndPublish(node, live ? EvictionReason.Removed : EvictionReason.Expired, ref events);
            }
        }

        if (live)
        {
            _metrics?.RecordDelete();
        }

        ReportSize();
        Raise(events);
        return live;
    }

    /// <summary>Gets the remaining time to live of a key (does not count as a read for sliding expiry).</summary>
    /// <param name="key">The key.</param>
    /// <returns>The remaining time, <see cref="Timeout.InfiniteTimeSpan"/> for an entry without expiry, or <see langword="null"/> when the key is missing or expired.</returns>
    public TimeSpan? GetRemainingTtl(string key)
    {
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        if (!_map.TryGetValue(key, out var node))
        {
            return null;
        }

        var expires = Volatile.Read(ref node.ExpiresAt);
        if (expires == MemoryNode.NoExpiry)
        {
            return Timeout.InfiniteTimeSpan;
        }

        var now = Now();
        return expires > now ? TimeSpan.FromSeconds((expires - now) / (double)_clockFrequency) : null;
    }

    /// <summary>Removes every entry (raising <see cref="Evicted"/> with <see cref="EvictionReason.Removed"/> for each when someone listens).</summary>
    public void Clear()
    {
        List<CacheEvictionEventArgs>? events = null;
        lock (_sync)
        {
            MarkCleared();
            ClearLocked(ref events);
        }

        ReportSize();
        Raise(events);
    }

    /// <summary>
    /// Reclaims every expired entry, then evicts live entries by the policy's order until the count is at most
    /// <c>(1 - <paramref name="fraction"/>)</c> of what it was.
    /// </summary>
    /// <param name="fraction">The share of entries to remove, 0 (only expired ones) to 1 (everything).</param>
    /// <returns>The number of entries removed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is outside [0, 1] or not a number.</exception>
    public long Compact(double fraction = 0)
    {
        if (!(fraction >= 0 && fraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The fraction to compact must be between 0 and 1.");
        }

        List<CacheEvictionEventArgs>? events = null;
        long removed;
        lock (_sync)
        {
            removed = CompactLocked(fraction, ref events);
        }

        ReportSize();
        Raise(events);
        return removed;
    }

    /// <summary>Takes a snapshot of the tier's counters (approximate under concurrency).</summary>
    /// <returns>The statistics.</returns>
    public InMemoryTierStatistics GetStatistics()
    {
        lock (_sync)
        {
            return new InMemoryTierStatistics(_count, _totalWeight, _evictionCounts[(int)EvictionReason.Size], _evictionCounts[(int)EvictionReason.Expired], _windowMaximum);
        }
    }

    /// <inheritdoc />
    public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        return new(TryGetCore<T>(key, checkKeyOnMiss: true, lenient: false, out var value, out _, out var hit) ? new CacheResult<T>(value, ExpiresAtUnixMs(hit!)) : CacheResult<T>.Miss);
    }

    /// <summary>
    /// When the entry a hit read expires, in Unix milliseconds (0 for never), reported with the hit so that a
    /// tier above that copies it (this tier below another in a <see cref="Tiering.MultiTierCache"/>) keeps it no longer.
    /// </summary>
    private long ExpiresAtUnixMs(MemoryNode node)
    {
        if (Volatile.Read(ref node.ExpiresAt) is var expires && expires == MemoryNode.NoExpiry)
        {
            return 0;
        }

        var left = Math.Max(expires - Now(), 0);
        return _time.GetUtcNow().ToUnixTimeMilliseconds() + (long)(left * 1000.0 / _clockFrequency);
    }

    /// <inheritdoc />
    public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        Set(key, value, ttl);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        return new(Remove(key));
    }

    /// <inheritdoc />
    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        return new(GetRemainingTtl(key) is not null);
    }

    /// <inheritdoc />
    public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        CacheKeyRules.ValidateTtl(ttl);
        lock (_sync)
        {
            MarkWritten(key, _map.Hash(key));
            if (!_map.TryGetValue(key, out var node) || !IsLive(node))
            {
                return new(false);
            }

            var now = Now();
            var absolute = AddTicks(now, ToTicks(ttl));
            if (node.ExpiresAt == MemoryNode.NoExpiry)
            {
                _expiring++;
            }

            if (node is ExtendedMemoryNode extended)
            {
                extended.AbsoluteExpiry = absolute;
            }

            Volatile.Write(ref node.ExpiresAt, _slidingTicks != 0 ? Math.Min(absolute, AddTicks(now, _slidingTicks)) : absolute);
            return new(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var key in CacheKeyRules.ValidateAll(keys, _options.MaxKeyBytes))
        {
            if (TryGetChecked<T>(key, out var value))
            {
                result[key] = value;
            }
        }

        return new(result);
    }

    /// <inheritdoc />
    public ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        var list = items.ToList();
        foreach (var item in list)
        {
            CacheKeyRules.Validate(item.Key, _options.MaxKeyBytes, paramName: nameof(items));
        }

        var now = BatchClock(ttl);
        var drafts = ArrayPool<NodeDraft>.Shared.Rent(list.Count);
        try
        {
            for (var i = 0; i < list.Count; i++)
            {
                drafts[i] = DraftNode(list[i].Key, list[i].Value, ttl, now);
            }

            WriteBatch(drafts.AsSpan(0, list.Count));
        }
        finally
        {
            ArrayPool<NodeDraft>.Shared.Return(drafts, clearArray: true);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        Enter(cancellationToken);
        long removed = 0;
        foreach (var key in CacheKeyRules.ValidateAll(keys, _options.MaxKeyBytes))
        {
            if (Remove(key))
            {
                removed++;
            }
        }

        return new(removed);
    }

    /// <summary>
    /// Empties the tier; afterwards its <see cref="ICacheOps"/> methods throw <see cref="ObjectDisposedException"/>, as
    /// every other backend's do. The synchronous methods (<c>TryGet</c>, <c>Set</c>, <c>Remove</c>) keep working on the
    /// empty tier, for owners such as <c>MultiTierCache</c> that may still be invalidating while they shut down.
    /// </summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, true);
        lock (_sync)
        {
            List<CacheEvictionEventArgs>? none = null;
            _ = Evicted;
            MarkCleared();
            ClearLocked(ref none);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Starts an <see cref="ICacheOps"/> call: refuses one after disposal or with a cancelled token, as the network backends do.</summary>
    private void Enter(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        cancellationToken.ThrowIfCancellationRequested();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Miss<T>(string key, MemoryNode? node, bool checkKey, long started, [MaybeNullWhen(false)] out T value)
    {
        // Reported first, so a snapshot taken meanwhile sees the read as a hit for as short a time as can be.
        _metrics?.RecordReadMiss();
        if (node is not null)
        {
            // Found but expired: reclaim it now.
            List<CacheEvictionEventArgs>? events = null;
            lock (_sync)
            {
                if (_map.TryGetValue(key, out var current) && ReferenceEquals(current, node))
                {
                    DropAndPublish(node, EvictionReason.Expired, ref events);
                }
            }

            ReportSize();
            Raise(events);
        }
        else if (checkKey)
        {
            CacheKeyRules.Validate(key, _options.MaxKeyBytes);
        }

        if (started != 0)
        {
            _metrics!.RecordMissLatency(started);
        }

        value = default;
        return false;
    }

    /// <summary>Whether an entry with an expiry is still readable; extends it when sliding expiry is on.</summary>
    private bool IsLive(MemoryNode node)
    {
        var expires = node.ExpiresAt;
        if (expires == MemoryNode.NoExpiry)
        {
            return true;
        }

        var now = Now();
        if (expires <= now)
        {
            return false;
        }

        if (_slidingTicks != 0)
        {
            // Read without the lock: an ExpireAsync may shorten the bound meanwhile (it writes the bound, then the
            // expiry). The bound is read again after the extension, which is clamped to it, so a read racing the
            // shortening never leaves the entry live past its new TTL; and a bound already passed is no hit.
            var bound = node.AbsoluteExpiresAt;
            if (bound <= now)
            {
                return false;
            }

            var next = Math.Min(bound, AddTicks(now, _slidingTicks));
            if (next > expires)
            {
                node.ExpiresAt = next;
                Interlocked.MemoryBarrier(); // the write above before the read below (a store then a load)
                var after = node.AbsoluteExpiresAt;
                if (after < next)
                {
                    node.ExpiresAt = after;
                    return after > now;
                }
            }
        }

        return true;
    }

    /// <summary>Reads a stored value as <typeparamref name="T"/>; false, with the type it holds, when it holds another type.</summary>
    private static bool TryUnwrap<T>(string key, object? stored, [MaybeNullWhen(false)] out T value, out string? held)
    {
        held = null;
        if (stored is SerializedCopy { Type: null })
        {
            // A stored null: readable as any type that can hold null, as without copies (no decoding needed).
            stored = null;
        }
        else if (stored is SerializedCopy copy)
        {
            // The stored type, its nullable form, or a base type or interface of it (decoded as the stored type and
            // returned as the one asked for); any other type is the caller's mistake, as it is without copies.
            var wanted = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
            var type = copy.Type!; // a stored null is the case above
            if (wanted != type && !wanted.IsAssignableFrom(type))
            {
                held = type.Name;
                value = default;
                return false;
            }

            value = RuntimeTypedCopy.Decode<T>(key, copy.Bytes, type);
            return true;
        }

        if (stored is T typed)
        {
            value = typed;
            return true;
        }

        if (stored is null && default(T) is null)
        {
            value = default!;
            return true;
        }

        held = stored?.GetType().Name ?? "null";
        value = default;
        return false;
    }

    [DoesNotReturn]
    private static void ThrowWrongType<T>(string key, string? held) =>
        throw new CacheWrongTypeException($"The entry under {TaiCacheDiagnostics.DescribeKey(key)} holds a {held}, not a {typeof(T).Name}.", key);

    private long Weigh(string key, object? stored)
    {
        if (_weigher is null)
        {
            return 1;
        }

        var weight = _weigher(key, stored);
        if (weight < 0)
        {
            throw new InvalidOperationException($"InMemoryTierOptions.Weigher returned {weight} for the entry under {TaiCacheDiagnostics.DescribeKey(key)}; weights must be zero or more.");
        }

        // A weight of 0 counts as 1: free entries would leave the tier unbounded. One past the bound says "never fits" as
        // well as any larger weight, and keeps the total weight from overflowing.
        return Math.Clamp(weight, 1, _maximum + 1);
    }

    /// <summary>A value stored as a serialized copy (<see cref="InMemoryTierOptions.StoreSerializedCopies"/>), with the type it was stored as.</summary>
    private sealed record SerializedCopy(Type? Type, byte[] Bytes); // Type null: the value was null, readable as any nullable type

    private void Raise(List<CacheEvictionEventArgs>? events)
    {
        if (events is null)
        {
            return;
        }

        var handler = Evicted;
        foreach (var e in events)
        {
            handler?.Invoke(this, e);
        }
    }

    private void ReportSize()
    {
        if (_metrics is null)
        {
            return;
        }

        if (_weigher is null)
        {
            _metrics.UpdateItemCount(Count);
        }
        else
        {
            _metrics.UpdateSize(Count, Weight);
        }
    }

    /// <summary>A span in the tier's clock ticks, rounded up, in integers: seconds times the frequency in doubles came out
    /// a hair short for about 6% of whole-millisecond TTLs (0.043 s x 10^7 is 429,999.99...), which expired a tick early.</summary>
    private long ToTicks(TimeSpan span)
    {
        long ticks;
        if (_clockFrequency == TimeSpan.TicksPerSecond)
        {
            ticks = span.Ticks;
        }
        else if (_clockFrequency == 1000)
        {
            // The coarse millisecond clock (the system clock's), with a constant divisor the JIT turns into a multiply:
            // a division by the field was about 6% of a batch copy into a full tier.
            ticks = Math.Min((span.Ticks / TimeSpan.TicksPerMillisecond) + (span.Ticks % TimeSpan.TicksPerMillisecond > 0 ? 1 : 0), TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond);
        }
        else if (_clockFrequency == 1_000_000_000)
        {
            // Nanosecond timestamps (Stopwatch on Linux): exactly 100 a TimeSpan tick, no Int128 division.
            ticks = span.Ticks >= long.MaxValue / 4 / 100 ? long.MaxValue / 4 : span.Ticks * 100;
        }
        else if (TimeSpan.TicksPerSecond % _clockFrequency == 0)
        {
            // A clock coarser than a TimeSpan tick. Rounded up, except past the last whole tick a TimeSpan holds (the
            // remaining TTL is read back as one).
            var per = TimeSpan.TicksPerSecond / _clockFrequency;
            ticks = Math.Min((span.Ticks / per) + (span.Ticks % per > 0 ? 1 : 0), TimeSpan.MaxValue.Ticks / per);
        }
        else
        {
            var exact = (((Int128)span.Ticks * _clockFrequency) + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
            var most = (Int128)TimeSpan.MaxValue.Ticks * _clockFrequency / TimeSpan.TicksPerSecond;
            ticks = (long)Int128.Min(Int128.Min(exact, most), long.MaxValue / 4);
        }

        return ticks >= long.MaxValue / 4 ? long.MaxValue / 4 : Math.Max(1, ticks);
    }

    /// <summary>
    /// The tier's clock for expiry: <see cref="Environment.TickCount64"/> (milliseconds, advanced by the OS every 1-4 ms)
    /// with the system clock, so expiry is exact to within one tick either way; the configured <see cref="TimeProvider"/>'s timestamp otherwise (tests with a fake clock see exact expiry).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Now() => _coarseClock ? Environment.TickCount64 : _time.GetTimestamp();

    private static long AddTicks(long now, long ticks) => now > MemoryNode.NoExpiry - 1 - ticks ? MemoryNode.NoExpiry - 1 : now + ticks;

    [DoesNotReturn]
    private static void ThrowNullKey() => throw new ArgumentNullException("key", "A cache key must not be null.");
}
