using System.Numerics;
using System.Runtime.CompilerServices;

namespace TaiCache.Metrics;

/// <summary>
/// Counts what one cache or tier does: hits, misses, sets, deletes, evictions by reason, errors, latency of hits and
/// of misses, size and peak size, and operations per second. Thread safe; recording allocates nothing and takes no lock.
/// </summary>
/// <remarks>
/// <para>
/// Counters are striped per thread: each thread increments its own cache-line-padded cell with a plain add (no lock
/// prefix, no shared cache line), and reads add the cells up. Only a cell's own thread writes it, so counts are exact.
/// A thread finds its cell by the stack page a local variable sits in, so the hot path reads no thread-local storage.
/// (Per-core slots were measured first: <see cref="Thread.GetCurrentProcessorId"/> plus an interlocked add cost several
/// times more per call on the benchmark machine.) A cell outlives its thread, so nothing counted is lost.
/// </para>
/// <para>
/// Latencies go into log-bucketed histograms (see <see cref="LatencyDistribution"/>). Hot tiers should not read the
/// clock on every hit: ask <see cref="ShouldTimeOperation"/> (or use <see cref="StartTiming"/> with
/// <see cref="RecordHitTimed"/> / <see cref="RecordMissTimed"/>), which times one call in
/// <see cref="MetricsCollectorOptions.LatencySampleInterval"/>.
/// </para>
/// <para>
/// Unless <see cref="MetricsCollectorOptions.PublishToMeter"/> is off, the collector is reported through the
/// <c>TaiCache</c> meter (<see cref="TaiCacheTelemetry"/>) tagged with its cache and tier names, for as long as it is
/// referenced or until <see cref="Dispose"/>.
/// </para>
/// </remarks>
public sealed partial class MetricsCollector : IDisposable
{
    internal const int EvictionReasonCount = 4;

    private const int CacheSlots = 16;
    internal const int PageSlots = 1 << PageSlotBits;
    private const int PageSlotBits = 8;
    private const int StackPageShift = 12;

    [ThreadStatic]
    private static CounterCell?[]? t_cells;

    [ThreadStatic]
    private static CounterCell? t_last;

    private static long s_nextId;

    private readonly long _id = Interlocked.Increment(ref s_nextId);
    private readonly int _slot;
    private readonly ThreadLocal<CounterCell> _local;
    private readonly Lock _cellsGate = new();
    private CounterCell[] _cells = [];
    private PageCellTable _pageCells;
    private readonly int _sampleInterval;
    private readonly long _readSampleMask;
    private readonly LatencyHistogram _hitLatency = new();
    private readonly LatencyHistogram _missLatency = new();
    private readonly KeyValuePair<string, object?>[] _hitDurationTags;
    private readonly KeyValuePair<string, object?>[] _missDurationTags;
    private readonly TimeProvider _time;
    private readonly double _nanosecondsPerTick;
    private volatile bool _published; // cleared by Dispose: a disposed collector's latencies reach the meter no more
    private long _items;
    private long _bytes;
    private long _peakItems;
    private long _peakBytes;
    private bool _sizeReported;
    private bool _bytesReported;

    /// <summary>Initializes a collector for one cache and tier.</summary>
    /// <param name="cacheName">The cache's name (a metric tag).</param>
    /// <param name="tierName">The tier's name (a metric tag), such as <c>memory</c>, <c>redis</c>, <c>L1</c>.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    public MetricsCollector(string cacheName, string tierName = "cache", TimeProvider? timeProvider = null)
        : this(cacheName, tierName, timeProvider, null)
    {
    }

    /// <summary>Initializes a collector for one cache and tier, with options.</summary>
    /// <param name="cacheName">The cache's name (a metric tag).</param>
    /// <param name="tierName">The tier's name (a metric tag), such as <c>memory</c>, <c>redis</c>, <c>L1</c>.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    public MetricsCollector(string cacheName, string tierName, TimeProvider? timeProvider, MetricsCollectorOptions? options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheName);
        ArgumentException.ThrowIfNullOrWhiteSpace(tierName);
        var opts = (options ?? new MetricsCollectorOptions()).Clone();
        opts.Validate();

        CacheName = cacheName;
        TierName = tierName;
        _time = timeProvider ?? TimeProvider.System;
        _nanosecondsPerTick = 1e9 / _time.TimestampFrequency;
        _sampleInterval = opts.LatencySampleInterval;
        _readSampleMask = (long)BitOperations.RoundUpToPowerOf2((uint)_sampleInterval) - 1;
        _rateWindowTicks = (long)(opts.RateWindow.TotalSeconds * _time.TimestampFrequency);

        _slot = (int)(_id % CacheSlots);
        ((Span<CounterCell>)_pageCells).Fill(CounterCell.Vacant);
        _local = new ThreadLocal<CounterCell>(NewCell);

        Tags = [new(TaiCacheTelemetry.CacheNameTag, cacheName), new(TaiCacheTelemetry.CacheTierTag, tierName)];
        EvictionTags = new KeyValuePair<string, object?>[EvictionReasonCount][];
        for (var reason = 0; reason < EvictionReasonCount; reason++)
        {
            EvictionTags[reason] = [.. Tags, new(TaiCacheTelemetry.EvictionReasonTag, ReasonName((EvictionReason)reason))];
        }

        _hitDurationTags = [.. Tags, new(TaiCacheTelemetry.ResultTag, "hit")];
        _missDurationTags = [.. Tags, new(TaiCacheTelemetry.ResultTag, "miss")];

        _startedAt = _time.GetTimestamp();
        _rateSamples.Enqueue((_startedAt, 0));
        if (opts.PublishToMeter)
        {
            TaiCacheInstruments.Register(this);
            _published = true;
        }
    }

    /// <summary>Gets the cache's name.</summary>
    public string CacheName { get; }

    /// <summary>Gets the tier's name.</summary>
    public string TierName { get; }

    /// <summary>Gets the clock the collector uses.</summary>
    public TimeProvider TimeProvider => _time;

    internal KeyValuePair<string, object?>[] Tags { get; }

    /// <summary>Gets a value indicating whether the tier ever reported its size (<see cref="UpdateSize"/>).</summary>
    internal bool SizeReported => Volatile.Read(ref _sizeReported);

    /// <summary>Gets a value indicating whether the tier ever reported its bytes (<see cref="UpdateSize"/>, not <see cref="UpdateItemCount"/>).</summary>
    internal bool BytesReported => Volatile.Read(ref _bytesReported);

    internal KeyValuePair<string, object?>[][] EvictionTags { get; }

    /// <summary>Records a hit without a latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordHit() => Stripe().Hits++;

    /// <summary>Records a hit and how long it took.</summary>
    /// <param name="latency">The time the read took.</param>
    public void RecordHit(TimeSpan latency)
    {
        Stripe().Hits++;
        RecordLatency(_hitLatency, ToNanoseconds(latency), _hitDurationTags);
    }

    /// <summary>Records a miss without a latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordMiss() => Stripe().Misses++;

    /// <summary>Records a miss and how long it took.</summary>
    /// <param name="latency">The time the read took.</param>
    public void RecordMiss(TimeSpan latency)
    {
        Stripe().Misses++;
        RecordLatency(_missLatency, ToNanoseconds(latency), _missDurationTags);
    }

    /// <summary>Records a write.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordSet() => Stripe().Sets++;

    /// <summary>Records a removal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordDelete() => Stripe().Deletes++;

    /// <summary>Records an entry leaving the cache.</summary>
    /// <param name="reason">Why it left.</param>
    public void RecordEviction(EvictionReason reason)
    {
        ref var stripe = ref Stripe();
        switch (reason)
        {
            case EvictionReason.Size:
                stripe.EvictedSize++;
                break;
            case EvictionReason.Expired:
                stripe.EvictedExpired++;
                break;
            case EvictionReason.Replaced:
                stripe.EvictedReplaced++;
                break;
            default:
                stripe.EvictedRemoved++;
                break;
        }
    }

    /// <summary>Records a failed operation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordError() => Stripe().Errors++;

    /// <summary>Reports the cache's current size; the peak is kept.</summary>
    /// <param name="items">Entries held.</param>
    /// <param name="bytes">Bytes (or weight units) held.</param>
    public void UpdateSize(long items, long bytes)
    {
        Volatile.Write(ref _bytesReported, true);
        UpdateItemCount(items);
        Volatile.Write(ref _bytes, bytes);
        InterlockedMax.Raise(ref _peakBytes, bytes);
    }

    /// <summary>
    /// Reports how many entries the cache holds, for a tier that counts entries but not bytes (an in-memory tier
    /// bounded by count): its byte gauges stay absent rather than read 0.
    /// </summary>
    /// <param name="items">Entries held.</param>
    public void UpdateItemCount(long items)
    {
        Volatile.Write(ref _sizeReported, true);
        Volatile.Write(ref _items, items);
        InterlockedMax.Raise(ref _peakItems, items);
    }

    /// <summary>
    /// Tells whether the caller should time this operation: true for one call in
    /// <see cref="MetricsCollectorOptions.LatencySampleInterval"/> on each thread, so a hot path reads the clock rarely.
    /// Costs about as much as <see cref="RecordHit()"/>.
    /// </summary>
    /// <returns><see langword="true"/> when this call should be timed (then pass its latency to <see cref="RecordHit(TimeSpan)"/> or <see cref="RecordMiss(TimeSpan)"/>).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ShouldTimeOperation() => IsSampleDue(ref Stripe());

    /// <summary>
    /// Starts timing this operation if it is sampled (see <see cref="ShouldTimeOperation"/>): returns the clock's
    /// timestamp, or 0 without reading the clock. Pass the value to <see cref="RecordHitTimed"/> or <see cref="RecordMissTimed"/>.
    /// </summary>
    /// <returns>A timestamp from <see cref="TimeProvider"/>, or 0 when this call is not timed.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long StartTiming() => ShouldTimeOperation() ? _time.GetTimestamp() : 0;

    /// <summary>
    /// For a hot tier's read (the in-memory tier): counts the read before the tier knows whether it hits, with one
    /// increment and no state kept across the lookup, and tells whether this read is the one in
    /// <see cref="MetricsCollectorOptions.LatencySampleInterval"/> (rounded up to a power of two) to time. A read that
    /// misses must then be reported to <see cref="RecordReadMiss"/>; every other counted read is a hit.
    /// </summary>
    /// <returns><see langword="true"/> when the caller should time this read (start with <see cref="StartTimingAlways"/>,
    /// end with <see cref="RecordHitLatency"/> or <see cref="RecordMissLatency"/>).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool CountRead()
    {
        // Stripe() written out, so the common read is one straight line: find the cell, count, test, done. The page is
        // compared again below rather than branching to the slow path first: that shape keeps the JIT from merging
        // the two outcomes into a materialized bool on the common path.
        var cell = PageCell(out var page, out var slot);
        if (cell.StackPage == page && (++cell.Counters.Reads & _readSampleMask) != 0)
        {
            return false;
        }

        return cell.StackPage == page || CountReadSlow(page, slot);
    }

    /// <summary><see cref="CountRead"/> for a stack page whose slot is not its own.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CountReadSlow(nuint page, nint slot) => (++StripeSlow(page, slot).Reads & _readSampleMask) == 0;

    /// <summary>Records that a read counted by <see cref="CountRead"/> missed (its latency, if timed, goes to <see cref="RecordMissLatency"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void RecordReadMiss() => Stripe().ReadMisses++;

    /// <summary>Records how long a timed miss took (the miss itself is counted by <see cref="RecordReadMiss"/>).</summary>
    /// <param name="startTimestamp">A non-zero timestamp from <see cref="StartTimingAlways"/>.</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void RecordMissLatency(long startTimestamp) => RecordLatency(_missLatency, Elapsed(startTimestamp), _missDurationTags);

    /// <summary>Records how long a timed hit took (the hit itself is counted by the caller).</summary>
    /// <param name="startTimestamp">A non-zero timestamp from <see cref="StartTiming"/> or <see cref="StartTimingAlways"/>.</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void RecordHitLatency(long startTimestamp) => RecordLatency(_hitLatency, Elapsed(startTimestamp), _hitDurationTags);

    /// <summary>Reads the collector's clock for a tier that times every call (a network or disk round trip dwarfs the read).</summary>
    /// <returns>A timestamp to pass to <see cref="RecordHitTimed"/> or <see cref="RecordMissTimed"/>.</returns>
    internal long StartTimingAlways() => _time.GetTimestamp();

    /// <summary>Records a hit, and its latency when <paramref name="startTimestamp"/> (from <see cref="StartTiming"/>) is not 0.</summary>
    /// <param name="startTimestamp">The value <see cref="StartTiming"/> returned.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordHitTimed(long startTimestamp)
    {
        Stripe().Hits++;
        if (startTimestamp != 0)
        {
            RecordHitLatency(startTimestamp);
        }
    }

    /// <summary>Records a miss, and its latency when <paramref name="startTimestamp"/> (from <see cref="StartTiming"/>) is not 0.</summary>
    /// <param name="startTimestamp">The value <see cref="StartTiming"/> returned.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordMissTimed(long startTimestamp)
    {
        Stripe().Misses++;
        if (startTimestamp != 0)
        {
            RecordMissLatency(startTimestamp);
        }
    }

    /// <summary>Stops publishing this collector through the <c>TaiCache</c> meter. Recording keeps working.</summary>
    public void Dispose()
    {
        if (_published)
        {
            _published = false;
            TaiCacheInstruments.Unregister(this);
        }
    }

    /// <summary>
    /// Finds a cell only the calling thread writes, without touching thread-local storage: the address of a local
    /// variable lies in the calling thread's stack, and no two live threads share a 4 KiB stack page (stacks are
    /// separate, page-aligned mappings). The page picks one of <see cref="PageSlots"/> slots; the slot's cell belongs
    /// to that page, hence to this thread. Reading a thread static here would cost a call into the runtime's TLS
    /// resolver (3-4 ns on Linux x64, more than everything else a hit does for metrics).
    /// </summary>
    /// <remarks>
    /// A page's cell outlives its thread; a thread later given the same stack page continues it, after the first
    /// thread is gone, so a cell still has one writer at a time. A page whose slot another page holds falls back to
    /// the thread-static path (<see cref="ThreadCell"/>), which is just as exact.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref CounterStripe Stripe()
    {
        var cell = PageCell(out var page, out var slot);
        if (cell.StackPage == page)
        {
            return ref cell.Counters;
        }

        return ref StripeSlow(page, slot);
    }

    /// <summary>The cell in the calling stack page's slot: the thread's own when its <see cref="CounterCell.StackPage"/> is <paramref name="page"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private CounterCell PageCell(out nuint page, out nint slot)
    {
        Unsafe.SkipInit(out int marker);
        page = (nuint)Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref Unsafe.As<int, byte>(ref marker)) >> StackPageShift;
        slot = (nint)(((ulong)page * 0x9E3779B97F4A7C15UL) >> (64 - PageSlotBits));
        return Unsafe.Add(ref Unsafe.As<PageCellTable, CounterCell>(ref _pageCells), slot);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref CounterStripe StripeSlow(nuint page, nint slot)
    {
        ref var entry = ref _pageCells[(int)slot];
        if (ReferenceEquals(Volatile.Read(ref entry), CounterCell.Vacant))
        {
            var claimed = new CounterCell(_id, page);
            claimed.Counters.SampleCountdown = _sampleInterval;
            if (ReferenceEquals(Interlocked.CompareExchange(ref entry, claimed, CounterCell.Vacant), CounterCell.Vacant))
            {
                Register(claimed);
                return ref claimed.Counters;
            }
        }

        return ref ThreadCell().Counters;
    }

    /// <summary>
    /// The calling thread's cell found through thread statics: first the cell this thread used last, then a small
    /// per-thread cache of cells by collector, else through <see cref="ThreadLocal{T}"/>.
    /// </summary>
    private CounterCell ThreadCell()
    {
        var last = t_last;
        if (last is not null && last.OwnerId == _id)
        {
            return last;
        }

        var cells = t_cells ??= new CounterCell?[CacheSlots];
        var cell = cells[_slot];
        if (cell is null || cell.OwnerId != _id)
        {
            cell = _local.Value!;
            cells[_slot] = cell;
        }

        t_last = cell;
        return cell;
    }

    /// <summary>Makes the calling thread's cell and adds it to those read by snapshots.</summary>
    private CounterCell NewCell()
    {
        var cell = new CounterCell(_id);
        cell.Counters.SampleCountdown = _sampleInterval;
        Register(cell);
        return cell;
    }

    /// <summary>Adds a cell to those read by snapshots (copy on write: reads take no lock).</summary>
    private void Register(CounterCell cell)
    {
        lock (_cellsGate)
        {
            _cells = [.. _cells, cell];
        }
    }

    private static string ReasonName(EvictionReason reason) => reason switch
    {
        EvictionReason.Size => "size",
        EvictionReason.Expired => "expired",
        EvictionReason.Removed => "removed",
        EvictionReason.Replaced => "replaced",
        _ => "other",
    };

    /// <summary>Counts a call down on the thread's countdown; true once every <see cref="MetricsCollectorOptions.LatencySampleInterval"/> calls.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsSampleDue(ref CounterStripe stripe)
    {
        if (--stripe.SampleCountdown > 0)
        {
            return false;
        }

        stripe.SampleCountdown = _sampleInterval;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long Elapsed(long startTimestamp) => (long)((_time.GetTimestamp() - startTimestamp) * _nanosecondsPerTick);

    /// <summary>Converts to nanoseconds, saturating at <see cref="long.MaxValue"/> (a span over about 29,000 years).</summary>
    private static long ToNanoseconds(TimeSpan latency) =>
        latency.Ticks > long.MaxValue / TimeSpan.NanosecondsPerTick ? long.MaxValue : latency.Ticks * TimeSpan.NanosecondsPerTick;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordLatency(LatencyHistogram histogram, long nanoseconds, KeyValuePair<string, object?>[] tags)
    {
        histogram.Record(nanoseconds);
        var duration = TaiCacheInstruments.Duration;
        if (duration.Enabled && _published)
        {
            duration.Record(nanoseconds / 1e9, tags.AsSpan());
        }
    }
}
