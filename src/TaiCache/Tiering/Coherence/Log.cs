using Microsoft.Extensions.Logging;

namespace TaiCache.Tiering.Coherence;

/// <summary>Source-generated log messages of cache coherence (event ids 5100-5199). Never a key or a value.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Cache coherence started: instance {InstanceId} on channel {Channel}")]
    public static partial void Started(ILogger logger, string instanceId, string channel);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Cache coherence resynchronised ({Reason}, peer {Peer}): cleared {Entries} local entries")]
    public static partial void Resynchronized(ILogger logger, CoherenceResyncReason reason, string? peer, long entries);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Cache coherence ignored an unreadable message on {Channel}: {Error}")]
    public static partial void Unreadable(ILogger logger, string channel, string error);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Cache coherence could not publish on {Channel}")]
    public static partial void PublishFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Cache coherence: subscription connection to {EndPoint} failed ({FailureType})")]
    public static partial void SubscriberFailed(ILogger logger, System.Net.EndPoint? endPoint, StackExchange.Redis.ConnectionFailureType failureType);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Information, Message = "Cache coherence: subscription connection to {EndPoint} restored")]
    public static partial void SubscriberRestored(ILogger logger, System.Net.EndPoint? endPoint);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Warning, Message = "Cache coherence: heartbeat failed")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Error, Message = "Cache coherence: an event handler threw")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Information, Message = "Cache coherence stopped: instance {InstanceId}")]
    public static partial void Stopped(ILogger logger, string instanceId);
}
