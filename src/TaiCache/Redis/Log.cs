using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>Source-generated log messages of the Redis backend (event ids 1000-1999). Never a key, value or secret.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Redis cache '{CacheName}' connected to {EndPointCount} endpoint(s) (cluster: {IsCluster})")]
    public static partial void Connected(ILogger logger, string cacheName, int endPointCount, bool isCluster);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}' could not connect yet; it keeps retrying in the background ({FailureKind})")]
    public static partial void NotConnectedAtStart(ILogger logger, string cacheName, string failureKind);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}' lost its connection to {EndPoint} ({FailureType}, {ConnectionType})")]
    public static partial void ConnectionFailed(ILogger logger, string cacheName, EndPoint? endPoint, ConnectionFailureType failureType, ConnectionType connectionType);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Redis cache '{CacheName}' restored its connection to {EndPoint} ({ConnectionType})")]
    public static partial void ConnectionRestored(ILogger logger, string cacheName, EndPoint? endPoint, ConnectionType connectionType);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': {Operation} on {Key} failed to reach the server ({FailureType}; {Suppressed} more such failures since the last report, at most one a second)")]
    public static partial void OperationConnectionFailed(ILogger logger, string cacheName, string operation, string key, string failureType, long suppressed);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': {Operation} on {Key} timed out after {TimeoutMs} ms ({Suppressed} more such failures since the last report, at most one a second)")]
    public static partial void OperationTimedOut(ILogger logger, string cacheName, string operation, string key, double timeoutMs, long suppressed);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': {Operation} on {Key} met a value of another type (WRONGTYPE)")]
    public static partial void WrongType(ILogger logger, string cacheName, string operation, string key);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': {Operation} on {Key} was refused by the server ({ErrorCode})")]
    public static partial void ServerError(ILogger logger, string cacheName, string operation, string key, string errorCode);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': the value under {Key} could not be read ({ExceptionType})")]
    public static partial void Unreadable(ILogger logger, string cacheName, string key, string exceptionType);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': the server refuses the expiry script to this user (NOPERM), so ExpireAsync falls back to a bare PEXPIRE and the expiry recorded in values goes stale; copies into other tiers may then outlive a shortened TTL. Grant +eval +evalsha +script|load +type (see docs/redis.md)")]
    public static partial void ScriptsRefused(ILogger logger, string cacheName);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "Redis cache '{CacheName}': the server refuses the read script to this user (NOPERM), so reads that take a hit's TTL from Redis send GET and PTTL apart: a value replaced between the two is reported with the new value's TTL. Grant +eval +evalsha +script|load (see docs/redis.md)")]
    public static partial void ReadScriptRefused(ILogger logger, string cacheName);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Debug, Message = "Redis cache '{CacheName}': scanned {ServerCount} primary server(s), {KeyCount} key(s) matched")]
    public static partial void ScanFinished(ILogger logger, string cacheName, int serverCount, long keyCount);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Error, Message = "Redis cache '{CacheName}': an item popped for a caller that had stopped waiting could not be put back ({Operation}); it is lost")]
    public static partial void PopPutBackFailed(ILogger logger, string cacheName, string operation, Exception exception);
}
