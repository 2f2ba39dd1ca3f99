namespace TaiCache.Metrics;

/// <summary>
/// An immutable snapshot of a <see cref="MetricsCollector"/>: counts, rates, latency distributions and sizes at one
/// moment (from <see cref="MetricsCollector.GetSnapshot"/>), or over an interval (from <see cref="Since"/>).
/// </summary>
public sealed class CacheMetrics
{
    /// <summary>Gets the cache's name.</summary>
    public required string CacheName { get; init; }

    /// <summary>Gets the tier's name.</summary>
    public required string TierName { get; init; }

    /// <summary>Gets when the snapshot was taken (from the collector's <see cref="TimeProvider"/>).</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets the time the counts cover: since the collector started, or the interval for <see cref="Since"/>.</summary>
    public TimeSpan Uptime { get; init; }

    /// <summary>Gets the reads that found a value.</summary>
    public long Hits { get; init; }

    /// <summary>Gets the reads that found nothing.</summary>
    public long Misses { get; init; }

    /// <summary>Gets the writes.</summary>
    public long Sets { get; init; }

    /// <summary>Gets the explicit removals.</summary>
    public long Deletes { get; init; }

    /// <summary>Gets the failed operations.</summary>
    public long Errors { get; init; }

    /// <summary>Gets the entries the eviction policy pushed out because the cache was full.</summary>
    public long EvictionsBySize { get; init; }

    /// <summary>Gets the entries that expired.</summary>
    public long EvictionsByExpiry { get; init; }

    /// <summary>Gets the entries removed explicitly (delete, invalidation, clear).</summary>
    public long EvictionsByRemoval { get; init; }

    /// <summary>Gets the entries overwritten by a new value.</summary>
    public long EvictionsByReplacement { get; init; }

    /// <summary>Gets the entries held.</summary>
    public long Items { get; init; }

    /// <summary>Gets the bytes (or weight units) held.</summary>
    public long Bytes { get; init; }

    /// <summary>Gets the most entries held since the collector started.</summary>
    public long PeakItems { get; init; }

    /// <summary>Gets the most bytes held since the collector started.</summary>
    public long PeakBytes { get; init; }

    /// <summary>
    /// Gets a value indicating whether the tier reports its size at all (the in-memory tier does; Redis, memcached and
    /// SQLite do not, since counting a prefix's keys on a shared server is not cheap). When <see langword="false"/>,
    /// <see cref="Items"/> and <see cref="Bytes"/> are 0 because nothing was reported, not because the tier is empty.
    /// </summary>
    public bool SizeReported { get; init; }

    /// <summary>
    /// Gets a value indicating whether the tier reports its bytes (or weight units): an in-memory tier bounded by entry
    /// count reports <see cref="Items"/> but not <see cref="Bytes"/>, which is then 0 because nothing was reported.
    /// </summary>
    public bool BytesReported { get; init; }

    /// <summary>Gets hits, misses, sets and deletes per second, over the collector's rate window (or the interval, for <see cref="Since"/>).</summary>
    public double OperationsPerSecond { get; init; }

    /// <summary>Gets the latency of timed hits.</summary>
    public LatencyDistribution HitLatency { get; init; } = LatencyDistribution.Empty;

    /// <summary>Gets the latency of timed misses.</summary>
    public LatencyDistribution MissLatency { get; init; } = LatencyDistribution.Empty;

    /// <summary>Gets the reads: hits plus misses.</summary>
    public long Requests => Hits + Misses;

    /// <summary>Gets the entries that left the cache, for every reason.</summary>
    public long Evictions => EvictionsBySize + EvictionsByExpiry + EvictionsByRemoval + EvictionsByReplacement;

    /// <summary>Gets hits divided by reads, in [0, 1]; 0 when there were no reads.</summary>
    public double HitRate => Requests == 0 ? 0 : Hits / (double)Requests;

    /// <summary>Gets misses divided by reads, in [0, 1]; 0 when there were no reads.</summary>
    public double MissRate => Requests == 0 ? 0 : Misses / (double)Requests;

    /// <summary>
    /// Gets capacity evictions (<see cref="EvictionsBySize"/>) divided by reads; 0 when there were no reads. Expiry,
    /// removal and replacement are what the application asked for, so they do not count against the cache.
    /// </summary>
    public double EvictionRate => Requests == 0 ? 0 : EvictionsBySize / (double)Requests;

    /// <summary>Gets the failed operations divided by all operations (reads, writes, deletes); 0 when there were none.</summary>
    public double ErrorRate
    {
        get
        {
            var operations = Hits + Misses + Sets + Deletes;
            return operations == 0 ? 0 : Errors / (double)operations;
        }
    }

    /// <summary>Gets the count of entries that left for one reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public long GetEvictions(EvictionReason reason) => reason switch
    {
        EvictionReason.Size => EvictionsBySize,
        EvictionReason.Expired => EvictionsByExpiry,
        EvictionReason.Replaced => EvictionsByReplacement,
        _ => EvictionsByRemoval,
    };

    /// <summary>
    /// Gets what happened between <paramref name="earlier"/> and this snapshot (both of the same collector): counts,
    /// rates and latencies of that interval; sizes and peaks are this snapshot's.
    /// </summary>
    /// <param name="earlier">A snapshot of the same collector taken before this one.</param>
    /// <returns>The interval's metrics.</returns>
    public CacheMetrics Since(CacheMetrics earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        var interval = Timestamp - earlier.Timestamp;
        var operations = Hits + Misses + Sets + Deletes - (earlier.Hits + earlier.Misses + earlier.Sets + earlier.Deletes);
        return new CacheMetrics
        {
            CacheName = CacheName,
            TierName = TierName,
            Timestamp = Timestamp,
            Uptime = interval,
            Hits = Hits - earlier.Hits,
            Misses = Misses - earlier.Misses,
            Sets = Sets - earlier.Sets,
            Deletes = Deletes - earlier.Deletes,
            Errors = Errors - earlier.Errors,
            EvictionsBySize = EvictionsBySize - earlier.EvictionsBySize,
            EvictionsByExpiry = EvictionsByExpiry - earlier.EvictionsByExpiry,
            EvictionsByRemoval = EvictionsByRemoval - earlier.EvictionsByRemoval,
            EvictionsByReplacement = EvictionsByReplacement - earlier.EvictionsByReplacement,
            Items = Items,
            Bytes = Bytes,
            PeakItems = PeakItems,
            PeakBytes = PeakBytes,
            SizeReported = SizeReported,
            BytesReported = BytesReported,
            OperationsPerSecond = interval > TimeSpan.Zero ? operations / interval.TotalSeconds : 0,
            HitLatency = HitLatency.Since(earlier.HitLatency),
            MissLatency = MissLatency.Since(earlier.MissLatency),
        };
    }

    /// <inheritdoc />
    public override string ToString() => MetricsReportFormatter.FormatLine(this);
}
