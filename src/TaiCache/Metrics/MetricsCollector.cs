namespace TaiCache.Metrics;

/// <summary>
/// Counts what one cache or tier does: hits, misses, sets, deletes, evictions by reason, errors, latency, size.
/// Thread safe; recording allocates nothing.
/// </summary>
/// <remarks>PLACEHOLDER surface agreed for the foundation; the metrics issue replaces the internals.</remarks>
public sealed class MetricsCollector
{
    private long _hits;
    private long _misses;
    private long _sets;
    private long _deletes;
    private long _errors;
    private long _items;
    private long _bytes;
    private readonly long[] _evictions = new long[4];

    /// <summary>Initializes a collector for one cache and tier.</summary>
    /// <param name="cacheName">The cache's name (a metric tag).</param>
    /// <param name="tierName">The tier's name (a metric tag), such as <c>memory</c>, <c>redis</c>, <c>L1</c>.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    public MetricsCollector(string cacheName, string tierName = "cache", TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheName);
        ArgumentException.ThrowIfNullOrWhiteSpace(tierName);
        CacheName = cacheName;
        TierName = tierName;
        _ = timeProvider;
    }

    /// <summary>Gets the cache's name.</summary>
    public string CacheName { get; }

    /// <summary>Gets the tier's name.</summary>
    public string TierName { get; }

    /// <summary>Gets the number of hits so far.</summary>
    public long Hits => Volatile.Read(ref _hits);

    /// <summary>Gets the number of misses so far.</summary>
    public long Misses => Volatile.Read(ref _misses);

    /// <summary>Records a hit without a latency.</summary>
    public void RecordHit() => Interlocked.Increment(ref _hits);

    /// <summary>Records a hit and how long it took.</summary>
    /// <param name="latency">The time the read took.</param>
    public void RecordHit(TimeSpan latency)
    {
        _ = latency;
        Interlocked.Increment(ref _hits);
    }

    /// <summary>Records a miss without a latency.</summary>
    public void RecordMiss() => Interlocked.Increment(ref _misses);

    /// <summary>Records a miss and how long it took.</summary>
    /// <param name="latency">The time the read took.</param>
    public void RecordMiss(TimeSpan latency)
    {
        _ = latency;
        Interlocked.Increment(ref _misses);
    }

    /// <summary>Records a write.</summary>
    public void RecordSet() => Interlocked.Increment(ref _sets);

    /// <summary>Records a removal.</summary>
    public void RecordDelete() => Interlocked.Increment(ref _deletes);

    /// <summary>Records an entry leaving the cache.</summary>
    /// <param name="reason">Why it left.</param>
    public void RecordEviction(EvictionReason reason) => Interlocked.Increment(ref _evictions[(int)reason & 3]);

    /// <summary>Records a failed operation.</summary>
    public void RecordError() => Interlocked.Increment(ref _errors);

    /// <summary>Reports the cache's current size.</summary>
    /// <param name="items">Entries held.</param>
    /// <param name="bytes">Bytes (or weight units) held.</param>
    public void UpdateSize(long items, long bytes)
    {
        Volatile.Write(ref _items, items);
        Volatile.Write(ref _bytes, bytes);
    }
}
