using Microsoft.Extensions.Logging;

namespace TaiCache.Memcached;

/// <summary>The memcached backend's log messages (event ids 2000-2999). Keys and values never appear in them.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Warning, Message = "memcached node {Node} marked down ({Reason}); a background probe tries it in {FirstProbeMs} ms, then at doubling intervals")]
    public static partial void NodeMarkedDown(ILogger logger, string node, double firstProbeMs, string reason);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "memcached node {Node} is reachable again")]
    public static partial void NodeRecovered(ILogger logger, string node);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "memcached connection to {Node} dropped: {Reason}")]
    public static partial void ConnectionDropped(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "memcached node {Node} answered an error line: {Error}")]
    public static partial void ServerErrorLine(ILogger logger, string node, string error);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "memcached node {Node}: a pooled connection was closed by the server while idle; the node's idle connections are dropped and a fresh one is opened")]
    public static partial void StaleConnectionDropped(ILogger logger, string node);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "memcached node {Node}: a pooled connection failed before any response ({Reason}); retrying once on a fresh connection")]
    public static partial void RetryingOnFreshConnection(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Debug, Message = "memcached node {Node}: a pooled connection failed after a non-idempotent request was sent ({Reason}); not retried, it may have been applied")]
    public static partial void NotRetriedNotIdempotent(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Debug, Message = "memcached node {Node}: a read won the recache token of an invalidated item and could not give it back ({Reason}); the item stays stale until its TTL ends or another client refills it")]
    public static partial void RecacheTokenKept(ILogger logger, string node, string reason);
}
