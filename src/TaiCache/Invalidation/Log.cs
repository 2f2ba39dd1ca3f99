using Microsoft.Extensions.Logging;

namespace TaiCache.Invalidation;

/// <summary>Source-generated log messages of the invalidation module (event ids 6000-6999). Keys appear only through <see cref="TaiCacheDiagnostics.DescribeKey"/>.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Debug, Message = "Invalidation {ReceiptId}: {Trigger} {TriggerValue}, {Strategy}, {KeyCount} key(s), {CycleCount} cycle(s) in {DurationMs} ms")]
    public static partial void Invalidated(ILogger logger, Guid receiptId, InvalidationTrigger trigger, string triggerValue, InvalidationStrategy strategy, int keyCount, int cycleCount, double durationMs);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Invalidation {ReceiptId}: tier '{Tier}' failed; its copies of {KeyCount} key(s) may remain until they expire")]
    public static partial void TierFailed(ILogger logger, Exception exception, Guid receiptId, string tier, int keyCount);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Invalidation {ReceiptId}: dependency cycle of {Length} key(s) through {Key}; walked once")]
    public static partial void CycleFound(ILogger logger, Guid receiptId, int length, string key);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Invalidation {ReceiptId}: cascade stopped at depth {MaxDepth} with dependents left (InvalidationManagerOptions.MaxCascadeDepth)")]
    public static partial void DepthLimitReached(ILogger logger, Guid receiptId, int maxDepth);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "More than {Capacity} keys written through the invalidation manager; pattern invalidation will clear in-memory tiers whole (InvalidationManagerOptions.MaxTrackedKeys)")]
    public static partial void TrackingOverflowed(ILogger logger, int capacity);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Warning, Message = "More than {Capacity} keys marked stale; removing eagerly instead (InvalidationManagerOptions.MaxStaleMarks)")]
    public static partial void StaleMarksFull(ILogger logger, int capacity);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Error, Message = "Scheduled invalidation of {Key} failed")]
    public static partial void ScheduledFailed(ILogger logger, Exception exception, string key);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Warning, Message = "Invalidation {ReceiptId}: broadcasting to other instances failed; their L1 copies may stay until they expire")]
    public static partial void BroadcastFailed(ILogger logger, Exception exception, Guid receiptId);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Warning, Message = "Invalidation {ReceiptId}: tier '{Tier}' could not list its keys for a pattern; keys only it holds may remain until they expire")]
    public static partial void TierListingFailed(ILogger logger, Exception exception, Guid receiptId, string tier);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Warning, Message = "Event '{EventName}' was raised but nothing is mapped to it on this instance (MapEvent); nothing was invalidated")]
    public static partial void EventNotMapped(ILogger logger, string eventName);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Information, Message = "Invalidation receipt {ReceiptId} at {Timestamp:O}: {Trigger} {TriggerValue}, {Strategy}, origin {Origin}, {KeyCount} key(s) [{Keys}], {CycleCount} cycle(s), {DurationMs} ms")]
    public static partial void Receipt(ILogger logger, Guid receiptId, DateTimeOffset timestamp, InvalidationTrigger trigger, string triggerValue, InvalidationStrategy strategy, string origin, int keyCount, string keys, int cycleCount, double durationMs);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Warning, Message = "Audit sink {Sink} failed to write receipt {ReceiptId}")]
    public static partial void SinkFailed(ILogger logger, Exception exception, string sink, Guid receiptId);

    [LoggerMessage(EventId = 6020, Level = LogLevel.Debug, Message = "Broadcast from {Origin}: dropped {KeyCount} key(s) from L1")]
    public static partial void BroadcastApplied(ILogger logger, string origin, int keyCount);

    [LoggerMessage(EventId = 6021, Level = LogLevel.Warning, Message = "Applying a broadcast invalidation failed")]
    public static partial void BroadcastApplyFailed(ILogger logger, Exception exception);
}
