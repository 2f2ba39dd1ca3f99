using Microsoft.Extensions.Logging;

namespace TaiCache.DependencyInjection;

/// <summary>Source-generated log methods of the dependency-injection integration (event ids 8000-8099).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 8000, Level = LogLevel.Warning, Message = "TaiCache '{CacheName}': L1 coherence could not start ({Error}); retrying in {RetryIn}; until then L1 takes no copies of values read from Redis, and it is cleared once coherence starts")]
    public static partial void CoherenceStartFailed(ILogger logger, string cacheName, string error, TimeSpan retryIn);

    [LoggerMessage(EventId = 8001, Level = LogLevel.Information, Message = "TaiCache '{CacheName}' built with tiers {Tiers}")]
    public static partial void CacheBuilt(ILogger logger, string cacheName, string tiers);
}
