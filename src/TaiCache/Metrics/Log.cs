using Microsoft.Extensions.Logging;

namespace TaiCache.Metrics;

/// <summary>The metrics area's log messages (event ids 7000-7999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 7000, Level = LogLevel.Warning, Message = "SLO violated for cache {CacheName} tier {TierName}: {Objective} measured {Measured} {Unit}, target {Target} {Unit}")]
    public static partial void SloViolated(ILogger logger, string cacheName, string tierName, SloObjective objective, double measured, double target, string unit);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "SLO met again for cache {CacheName} tier {TierName}: {Objective} measured {Measured} {Unit}, target {Target} {Unit}")]
    public static partial void SloRecovered(ILogger logger, string cacheName, string tierName, SloObjective objective, double measured, double target, string unit);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Error, Message = "A metrics time-series tick for cache {CacheName} tier {TierName} failed")]
    public static partial void TickFailed(ILogger logger, Exception exception, string cacheName, string tierName);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error, Message = "An SLO violation handler for cache {CacheName} tier {TierName} threw")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string cacheName, string tierName);
}
