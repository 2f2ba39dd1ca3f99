using Microsoft.Extensions.Logging;

namespace TaiCache.Tiering.Warming;

/// <summary>Source-generated log messages of cache warming (event ids 5200-5299). Never a key or a value.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "Warm-up of cache '{Cache}' finished: {Loaded} loaded, {Failed} failed, {Skipped} skipped in {ElapsedMs} ms")]
    public static partial void Finished(ILogger logger, string cache, int loaded, int failed, int skipped, double elapsedMs);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Debug, Message = "Warm-up of cache '{Cache}': an item failed")]
    public static partial void ItemFailed(ILogger logger, string cache, Exception exception);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "Warm-up of cache '{Cache}': the progress handler threw; the warm-up goes on")]
    public static partial void ProgressFailed(ILogger logger, string cache, Exception exception);
}
