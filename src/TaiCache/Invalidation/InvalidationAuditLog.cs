using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TaiCache.Invalidation;

/// <summary>
/// A bounded, thread-safe record of <see cref="InvalidationReceipt"/>s (the newest <see cref="InvalidationAuditLogOptions.Capacity"/>,
/// holding at most <see cref="InvalidationAuditLogOptions.MaxRetainedKeys"/> keys in all),
/// queryable by key, time range and trigger, and copied to optional sinks (a logger, a Redis stream).
/// </summary>
public sealed class InvalidationAuditLog
{
    private readonly Queue<InvalidationReceipt> _held;
    private readonly int _capacity;
    private readonly long _maxKeys;
    private long _heldKeys;
    private readonly IInvalidationAuditSink[] _sinks;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private long _written;

    /// <summary>Initializes an audit log.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where sink failures are logged; <see langword="null"/> for none.</param>
    public InvalidationAuditLog(InvalidationAuditLogOptions? options = null, ILogger<InvalidationAuditLog>? logger = null)
    {
        var copy = (options ?? new InvalidationAuditLogOptions()).Clone();
        copy.Validate();
        _capacity = copy.Capacity;
        _maxKeys = copy.MaxRetainedKeys;
        _held = new Queue<InvalidationReceipt>(Math.Min(copy.Capacity, 1024));
        _sinks = [.. copy.Sinks];
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Gets the number of receipts held (at most the capacity).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Gets how many receipts were ever recorded (including those the bound has dropped).</summary>
    public long TotalRecorded => Interlocked.Read(ref _written);

    /// <summary>Gets the receipts held, newest first.</summary>
    /// <param name="max">The most to return.</param>
    /// <returns>The receipts.</returns>
    public IReadOnlyList<InvalidationReceipt> GetRecent(int max = int.MaxValue) => Query(static _ => true, max);

    /// <summary>Finds the receipt with an id.</summary>
    /// <param name="id">The receipt id.</param>
    /// <returns>The receipt, or <see langword="null"/> when it is not (or no longer) held.</returns>
    public InvalidationReceipt? Find(Guid id) => Query(r => r.Id == id, 1) is [var first, ..] ? first : null;

    /// <summary>Finds the receipts that reached a key (as trigger or by cascade), newest first.</summary>
    /// <param name="key">The key.</param>
    /// <param name="max">The most to return.</param>
    /// <returns>The receipts.</returns>
    public IReadOnlyList<InvalidationReceipt> FindByKey(string key, int max = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Query(r => r.Find(key) is not null, max);
    }

    /// <summary>Finds the receipts of invalidations that started within a time range (inclusive), newest first.</summary>
    /// <param name="from">The earliest start.</param>
    /// <param name="to">The latest start.</param>
    /// <param name="max">The most to return.</param>
    /// <returns>The receipts.</returns>
    public IReadOnlyList<InvalidationReceipt> FindByTime(DateTimeOffset from, DateTimeOffset to, int max = int.MaxValue) =>
        Query(r => r.Timestamp >= from && r.Timestamp <= to, max);

    /// <summary>Finds the receipts of one kind of trigger, optionally with one value (a tag, an event name), newest first.</summary>
    /// <param name="trigger">The trigger kind.</param>
    /// <param name="value">The trigger value, or <see langword="null"/> for any.</param>
    /// <param name="max">The most to return.</param>
    /// <returns>The receipts.</returns>
    public IReadOnlyList<InvalidationReceipt> FindByTrigger(InvalidationTrigger trigger, string? value = null, int max = int.MaxValue) =>
        Query(r => r.Trigger == trigger && (value is null || string.Equals(r.TriggerValue, value, StringComparison.Ordinal)), max);

    /// <summary>Finds the receipts a predicate accepts, newest first.</summary>
    /// <param name="predicate">The filter.</param>
    /// <param name="max">The most to return.</param>
    /// <returns>The receipts.</returns>
    public IReadOnlyList<InvalidationReceipt> Query(Func<InvalidationReceipt, bool> predicate, int max = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        InvalidationReceipt[] snapshot;
        lock (_lock)
        {
            snapshot = _held.ToArray();
        }

        var result = new List<InvalidationReceipt>();
        for (var i = snapshot.Length - 1; i >= 0; i--)
        {
            var receipt = snapshot[i];
            if (result.Count >= max)
            {
                break;
            }

            if (predicate(receipt))
            {
                result.Add(receipt);
            }
        }

        return result;
    }

    /// <summary>What a receipt holds, in keys: its keys and the keys of the cycles it reports.</summary>
    private static long Weight(InvalidationReceipt receipt)
    {
        long weight = receipt.Keys.Count;
        foreach (var cycle in receipt.Cycles)
        {
            weight += cycle.Count;
        }

        return weight;
    }

    /// <summary>Records a receipt and writes it to every sink (a failing sink is logged, never thrown).</summary>
    internal async ValueTask RecordAsync(InvalidationReceipt receipt, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _held.Enqueue(receipt);
            _heldKeys += Weight(receipt);
            _written++;
            while (_held.Count > _capacity || (_heldKeys > _maxKeys && _held.Count > 1))
            {
                _heldKeys -= Weight(_held.Dequeue());
            }
        }

        foreach (var sink in _sinks)
        {
            try
            {
                await sink.WriteAsync(receipt, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A sink must never fail an invalidation that already happened.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.SinkFailed(_logger, ex, sink.GetType().Name, receipt.Id);
            }
        }
    }
}
