using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TaiCache.Metrics;

/// <summary>
/// A bounded ring of a collector's snapshots taken at a fixed interval (by a <see cref="TimeProvider"/> timer after
/// <see cref="Start"/>, or by explicit <see cref="Tick"/> calls), with trend queries over the last N intervals:
/// per-interval hit rates and latency percentiles, the hit rate's rate of change, and windows to judge with a
/// <see cref="SloChecker"/>. Thread safe.
/// </summary>
public sealed class TimeSeriesMetrics : IDisposable, IAsyncDisposable
{
    private readonly MetricsCollector _collector;
    private readonly CacheMetrics[] _ring;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private int _next;
    private int _count;
    private bool _disposed;

    /// <summary>Initializes a series; nothing is recorded until <see cref="Start"/> or <see cref="Tick"/>.</summary>
    /// <param name="collector">The collector to snapshot.</param>
    /// <param name="interval">The time between snapshots (used by <see cref="Start"/>). Must be positive.</param>
    /// <param name="capacity">The most snapshots kept (the oldest is dropped); at least 2. Default 60.</param>
    /// <param name="logger">Where a failed timer tick is logged; none when <see langword="null"/>.</param>
    public TimeSeriesMetrics(MetricsCollector collector, TimeSpan interval, int capacity = 60, ILogger<TimeSeriesMetrics>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(collector);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _collector = collector;
        Interval = interval;
        _ring = new CacheMetrics[capacity];
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Raised after each snapshot is added, with the interval it closes (or the first snapshot itself).</summary>
    public event EventHandler<CacheMetrics>? Ticked;

    /// <summary>Gets the time between snapshots.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Gets the most snapshots kept.</summary>
    public int Capacity => _ring.Length;

    /// <summary>Gets the number of snapshots held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Gets the newest snapshot, or <see langword="null"/> before the first tick.</summary>
    public CacheMetrics? Latest
    {
        get
        {
            lock (_gate)
            {
                return _count == 0 ? null : _ring[(_next - 1 + _ring.Length) % _ring.Length];
            }
        }
    }

    /// <summary>Starts taking a snapshot every <see cref="Interval"/> on the collector's <see cref="TimeProvider"/> (the first one now).</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _timer ??= _collector.TimeProvider.CreateTimer(static s => ((TimeSeriesMetrics)s!).OnTimer(), this, TimeSpan.Zero, Interval);
        }
    }

    /// <summary>Takes a snapshot now and adds it to the ring.</summary>
    /// <returns>The snapshot.</returns>
    public CacheMetrics Tick()
    {
        CacheMetrics snapshot;
        CacheMetrics? previous;
        lock (_gate)
        {
            // Taken under the lock: a timer's tick racing an explicit one must not store its snapshots out of order
            // (an interval's counts would come out negative).
            snapshot = _collector.GetSnapshot();
            previous = _count == 0 ? null : _ring[(_next - 1 + _ring.Length) % _ring.Length];
            _ring[_next] = snapshot;
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
        }

        Ticked?.Invoke(this, previous is null ? snapshot : snapshot.Since(previous));
        return snapshot;
    }

    /// <summary>Gets the snapshots held, oldest first.</summary>
    /// <returns>The snapshots.</returns>
    public IReadOnlyList<CacheMetrics> GetSnapshots()
    {
        lock (_gate)
        {
            var list = new CacheMetrics[_count];
            var start = (_next - _count + _ring.Length) % _ring.Length;
            for (var i = 0; i < _count; i++)
            {
                list[i] = _ring[(start + i) % _ring.Length];
            }

            return list;
        }
    }

    /// <summary>Gets the last <paramref name="intervals"/> intervals (fewer when fewer are held), oldest first, each as the metrics of that interval alone.</summary>
    /// <param name="intervals">How many intervals; at least 1.</param>
    /// <returns>The intervals.</returns>
    public IReadOnlyList<CacheMetrics> GetIntervals(int intervals)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervals, 1);
        var snapshots = GetSnapshots();
        var n = Math.Min(intervals, snapshots.Count - 1);
        var result = new CacheMetrics[Math.Max(0, n)];
        for (var i = 0; i < result.Length; i++)
        {
            var later = snapshots[snapshots.Count - n + i];
            var earlier = snapshots[snapshots.Count - n + i - 1];
            result[i] = later.Since(earlier);
        }

        return result;
    }

    /// <summary>Gets the metrics of the last <paramref name="intervals"/> intervals taken together (fewer when fewer are held), or <see langword="null"/> with fewer than two snapshots.</summary>
    /// <param name="intervals">How many intervals; at least 1.</param>
    /// <returns>The window's metrics.</returns>
    public CacheMetrics? GetWindow(int intervals)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervals, 1);
        var snapshots = GetSnapshots();
        if (snapshots.Count < 2)
        {
            return null;
        }

        var n = Math.Min(intervals, snapshots.Count - 1);
        return snapshots[^1].Since(snapshots[snapshots.Count - 1 - n]);
    }

    /// <summary>Gets the hit rate of each of the last <paramref name="intervals"/> intervals, oldest first (<see cref="double.NaN"/> for an interval without reads).</summary>
    /// <param name="intervals">How many intervals; at least 1.</param>
    /// <returns>The hit rates.</returns>
    public IReadOnlyList<double> GetHitRates(int intervals) =>
        GetIntervals(intervals).Select(static m => m.Requests == 0 ? double.NaN : m.HitRate).ToArray();

    /// <summary>
    /// Gets how fast the hit rate changes: the least-squares slope of the per-interval hit rates over the last
    /// <paramref name="intervals"/> intervals, in hit-rate units per interval (+0.01 means one point better each
    /// interval). Intervals without reads are skipped; 0 with fewer than two usable intervals.
    /// </summary>
    /// <param name="intervals">How many intervals; at least 2.</param>
    /// <returns>The slope per interval.</returns>
    public double GetHitRateTrend(int intervals)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervals, 2);
        var rates = GetHitRates(intervals);
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (var i = 0; i < rates.Count; i++)
        {
            if (double.IsNaN(rates[i]))
            {
                continue;
            }

            n++;
            sx += i;
            sy += rates[i];
            sxx += (double)i * i;
            sxy += i * rates[i];
        }

        var denominator = (n * sxx) - (sx * sx);
        return n < 2 || denominator == 0 ? 0 : ((n * sxy) - (sx * sy)) / denominator;
    }

    /// <summary>Gets a latency percentile of hits (or misses) in each of the last <paramref name="intervals"/> intervals, oldest first (0 for an interval with nothing timed).</summary>
    /// <param name="intervals">How many intervals; at least 1.</param>
    /// <param name="percentile">The percentile, in (0, 100].</param>
    /// <param name="misses"><see langword="true"/> for miss latency, <see langword="false"/> for hit latency.</param>
    /// <returns>The values, in microseconds.</returns>
    public IReadOnlyList<double> GetLatencyTrend(int intervals, double percentile = 99, bool misses = false) =>
        GetIntervals(intervals)
            .Select(m => (misses ? m.MissLatency : m.HitLatency).GetPercentileMicroseconds(percentile))
            .ToArray();

    /// <summary>Stops the timer, if started.</summary>
    public void Dispose()
    {
        ITimer? timer;
        lock (_gate)
        {
            _disposed = true;
            timer = _timer;
            _timer = null;
        }

        timer?.Dispose();
    }

    /// <summary>Stops the timer, if started.</summary>
    /// <returns>A task that completes when the timer is stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        ITimer? timer;
        lock (_gate)
        {
            _disposed = true;
            timer = _timer;
            _timer = null;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void OnTimer()
    {
        try
        {
            Tick();
        }
#pragma warning disable CA1031 // A timer callback must not crash the process; the failure is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.TickFailed(_logger, ex, _collector.CacheName, _collector.TierName);
        }
    }
}
