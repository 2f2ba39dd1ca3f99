namespace TaiCache.Metrics;

/// <content>Reading the counters and taking snapshots.</content>
public sealed partial class MetricsCollector
{
    private const int MaxRateSamples = 64;

    private readonly Lock _rateGate = new();
    private readonly Queue<(long Timestamp, long Operations)> _rateSamples = new();
    private readonly long _rateWindowTicks;
    private readonly long _startedAt;

    private long _hitsReported;

    /// <summary>Gets the number of hits so far.</summary>
    public long Hits => ReportHits(Sum(static (ref s) => HitsIn(ref s)));

    /// <summary>Gets the number of misses so far.</summary>
    public long Misses => Sum(static (ref s) => MissesIn(ref s));

    /// <summary>Gets the number of writes so far.</summary>
    public long Sets => Sum(static (ref s) => Volatile.Read(ref s.Sets));

    /// <summary>Gets the number of explicit removals so far.</summary>
    public long Deletes => Sum(static (ref s) => Volatile.Read(ref s.Deletes));

    /// <summary>Gets the number of failed operations so far.</summary>
    public long Errors => Sum(static (ref s) => Volatile.Read(ref s.Errors));

    /// <summary>Gets the number of entries that left the cache so far, for every reason.</summary>
    public long Evictions => Sum(static (ref s) => Volatile.Read(ref s.EvictedSize) + Volatile.Read(ref s.EvictedExpired) + Volatile.Read(ref s.EvictedRemoved) + Volatile.Read(ref s.EvictedReplaced));

    /// <summary>Gets the entries held, as last reported to <see cref="UpdateSize"/>.</summary>
    public long Items => Volatile.Read(ref _items);

    /// <summary>Gets the bytes (or weight units) held, as last reported to <see cref="UpdateSize"/>.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Gets the most entries ever reported to <see cref="UpdateSize"/>.</summary>
    public long PeakItems => Volatile.Read(ref _peakItems);

    /// <summary>Gets the most bytes ever reported to <see cref="UpdateSize"/>.</summary>
    public long PeakBytes => Volatile.Read(ref _peakBytes);

    /// <summary>Gets the number of entries that left the cache for one reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count so far.</returns>
    public long GetEvictions(EvictionReason reason) => reason switch
    {
        EvictionReason.Size => Sum(static (ref s) => Volatile.Read(ref s.EvictedSize)),
        EvictionReason.Expired => Sum(static (ref s) => Volatile.Read(ref s.EvictedExpired)),
        EvictionReason.Replaced => Sum(static (ref s) => Volatile.Read(ref s.EvictedReplaced)),
        _ => Sum(static (ref s) => Volatile.Read(ref s.EvictedRemoved)),
    };

    /// <summary>
    /// Takes an immutable snapshot of everything counted so far, with percentiles and the operations per second over
    /// the last <see cref="MetricsCollectorOptions.RateWindow"/>.
    /// </summary>
    /// <returns>The snapshot.</returns>
    public CacheMetrics GetSnapshot()
    {
        long hits = 0, misses = 0, sets = 0, deletes = 0, errors = 0, size = 0, expired = 0, removed = 0, replaced = 0;
        var cells = Volatile.Read(ref _cells);
        for (var i = 0; i < cells.Length; i++)
        {
            ref var s = ref cells[i].Counters;
            hits += HitsIn(ref s);
            misses += MissesIn(ref s);
            sets += Volatile.Read(ref s.Sets);
            deletes += Volatile.Read(ref s.Deletes);
            errors += Volatile.Read(ref s.Errors);
            size += Volatile.Read(ref s.EvictedSize);
            expired += Volatile.Read(ref s.EvictedExpired);
            removed += Volatile.Read(ref s.EvictedRemoved);
            replaced += Volatile.Read(ref s.EvictedReplaced);
        }

        hits = ReportHits(hits);
        var now = _time.GetTimestamp();
        var operations = hits + misses + sets + deletes;
        return new CacheMetrics
        {
            CacheName = CacheName,
            TierName = TierName,
            Timestamp = _time.GetUtcNow(),
            Uptime = _time.GetElapsedTime(_startedAt, now),
            Hits = hits,
            Misses = misses,
            Sets = sets,
            Deletes = deletes,
            Errors = errors,
            EvictionsBySize = size,
            EvictionsByExpiry = expired,
            EvictionsByRemoval = removed,
            EvictionsByReplacement = replaced,
            Items = Items,
            Bytes = Bytes,
            PeakItems = PeakItems,
            PeakBytes = PeakBytes,
            SizeReported = SizeReported,
            BytesReported = BytesReported,
            OperationsPerSecond = RateOver(now, operations),
            HitLatency = _hitLatency.Snapshot(),
            MissLatency = _missLatency.Snapshot(),
        };
    }

    /// <summary>
    /// Measures operations per second against the newest remembered point at least a window old (or the oldest one),
    /// and remembers this point, at most every 1/8 window.
    /// </summary>
    private double RateOver(long now, long operations)
    {
        lock (_rateGate)
        {
            var (baseTs, baseOps) = _rateSamples.Peek();
            foreach (var sample in _rateSamples)
            {
                if (now - sample.Timestamp >= _rateWindowTicks)
                {
                    (baseTs, baseOps) = sample;
                }
                else
                {
                    break;
                }
            }

            while (_rateSamples.Count > 1 && now - _rateSamples.Peek().Timestamp > _rateWindowTicks && _rateSamples.Peek().Timestamp < baseTs)
            {
                _rateSamples.Dequeue();
            }

            var newest = _rateSamples.Count == 0 ? long.MinValue : LastTimestamp();
            if (now - newest >= _rateWindowTicks / 8 || newest == long.MinValue)
            {
                if (_rateSamples.Count >= MaxRateSamples)
                {
                    _rateSamples.Dequeue();
                }

                _rateSamples.Enqueue((now, operations));
            }

            var seconds = (now - baseTs) / (double)_time.TimestampFrequency;
            return seconds <= 0 ? 0 : (operations - baseOps) / seconds;
        }
    }

    private long LastTimestamp()
    {
        var last = 0L;
        foreach (var sample in _rateSamples)
        {
            last = sample.Timestamp;
        }

        return last;
    }

    /// <summary>
    /// A cell's hits: those recorded as hits plus the reads counted up front that did not miss. <see cref="CounterStripe.Reads"/>
    /// is read before <see cref="CounterStripe.ReadMisses"/>, so a read that misses while the cell is read is not taken for a hit.
    /// </summary>
    private static long HitsIn(ref CounterStripe s) => Volatile.Read(ref s.Hits) + Volatile.Read(ref s.Reads) - Volatile.Read(ref s.ReadMisses);

    /// <summary>A cell's misses: those recorded as misses plus the reads counted up front that missed.</summary>
    private static long MissesIn(ref CounterStripe s) => Volatile.Read(ref s.Misses) + Volatile.Read(ref s.ReadMisses);

    /// <summary>
    /// Keeps reported hits monotonic (a meter's counter must never go down): a read in flight while the cells are read
    /// counts as a hit until its miss is recorded, possibly in another cell, so a sum can exceed a later one by the
    /// reads in flight. Reported hits never drop below what was reported before; the excess is one read per thread
    /// at most, and only until as many later hits have happened.
    /// </summary>
    private long ReportHits(long hits)
    {
        InterlockedMax.Raise(ref _hitsReported, hits);
        return Math.Max(hits, Volatile.Read(ref _hitsReported));
    }

    private delegate long StripeReader(ref CounterStripe stripe);

    private long Sum(StripeReader read)
    {
        long total = 0;
        var cells = Volatile.Read(ref _cells);
        for (var i = 0; i < cells.Length; i++)
        {
            total += read(ref cells[i].Counters);
        }

        return total;
    }
}
