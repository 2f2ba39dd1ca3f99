using Microsoft.Extensions.Logging;

namespace TaiCache.Tiering;

/// <summary>Source-generated log messages of the tiering layer (event ids 4000-4999). Keys appear only as <see cref="TaiCacheDiagnostics.DescribeKey"/> gives them.</summary>
// Each wrapper checks IsEnabled before describing the key, which is what CA1873 asks for.
#pragma warning disable CA1873
internal static partial class Log
{
    public static void TierReadFailed(ILogger logger, string cache, TierSlot tier, string? key, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Warning) && tier.ReadFailureLog.TryEnter(out var suppressed))
        {
            TierReadFailedCore(logger, cache, tier.Name, TaiCacheDiagnostics.DescribeKey(key), suppressed, exception);
        }
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Warning, Message = "Cache {Cache}: tier {Tier} failed a read of {Key}; serving from the other tiers ({Suppressed} more read failures of this tier since the last report, at most one a second).")]
    private static partial void TierReadFailedCore(ILogger logger, string cache, string tier, string? key, long suppressed, Exception exception);

    public static void TierWriteFailed(ILogger logger, string cache, TierSlot tier, string? key, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Warning) && tier.WriteFailureLog.TryEnter(out var suppressed))
        {
            TierWriteFailedCore(logger, cache, tier.Name, TaiCacheDiagnostics.DescribeKey(key), suppressed, exception);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Cache {Cache}: tier {Tier} failed a write of {Key} ({Suppressed} more write failures of this tier since the last report, at most one a second).")]
    private static partial void TierWriteFailedCore(ILogger logger, string cache, string tier, string? key, long suppressed, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Cache {Cache}: the circuit of tier {Tier} is now {State}.")]
    public static partial void CircuitStateChanged(ILogger logger, string cache, string tier, CircuitState state);

    public static void FactoryTimedOut(ILogger logger, string cache, string? key, TimeSpan timeout)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            FactoryTimedOutCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), timeout);
        }
    }

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Cache {Cache}: the factory for {Key} did not finish within {Timeout}; it keeps running in the background.")]
    private static partial void FactoryTimedOutCore(ILogger logger, string cache, string? key, TimeSpan timeout);

    public static void StaleServed(ILogger logger, string cache, string key)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            StaleServedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key));
        }
    }

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Cache {Cache}: served a stale value of {Key} (fail-safe).")]
    private static partial void StaleServedCore(ILogger logger, string cache, string key);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Cache {Cache}: write-behind batch of {Count} writes to tier {Tier} failed; retrying.")]
    public static partial void WriteBehindBatchFailed(ILogger logger, string cache, string tier, int count, Exception exception);

    public static void WriteBehindDeadLettered(ILogger logger, string cache, string? key, int attempts)
    {
        if (logger.IsEnabled(LogLevel.Error))
        {
            WriteBehindDeadLetteredCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), attempts);
        }
    }

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Cache {Cache}: write-behind gave up on {Key} after {Attempts} attempts; it is in the dead-letter sink.")]
    private static partial void WriteBehindDeadLetteredCore(ILogger logger, string cache, string? key, int attempts);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "Cache {Cache}: write-behind drain ended with {Count} writes not written to every tier.")]
    public static partial void WriteBehindDrainIncomplete(ILogger logger, string cache, int count);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Information, Message = "Cache {Cache}: replayed {Count} journaled write-behind writes.")]
    public static partial void JournalReplayed(ILogger logger, string cache, int count);

    public static void JournalReplayFailed(ILogger logger, string cache, string? key, string type, Exception? exception)
    {
        if (logger.IsEnabled(LogLevel.Error))
        {
            JournalReplayFailedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), type, exception);
        }
    }

    [LoggerMessage(EventId = 4009, Level = LogLevel.Error, Message = "Cache {Cache}: a journaled write-behind write of {Key} could not be replayed (type {Type}); it is in the dead-letter sink.")]
    private static partial void JournalReplayFailedCore(ILogger logger, string cache, string? key, string type, Exception? exception);

    public static void BackgroundFactoryFailed(ILogger logger, string cache, string? key, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            BackgroundFactoryFailedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), exception);
        }
    }

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Cache {Cache}: a background factory for {Key} failed.")]
    private static partial void BackgroundFactoryFailedCore(ILogger logger, string cache, string? key, Exception exception);

    public static void UnreadableValue(ILogger logger, string cache, string tier, string? key, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            UnreadableValueCore(logger, cache, tier, TaiCacheDiagnostics.DescribeKey(key), exception);
        }
    }

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Cache {Cache}: tier {Tier} holds a value of {Key} that cannot be read; treated as a miss.")]
    private static partial void UnreadableValueCore(ILogger logger, string cache, string tier, string? key, Exception exception);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Error, Message = "Cache {Cache}: the write-behind flusher failed unexpectedly.")]
    public static partial void FlusherFailed(ILogger logger, string cache, Exception exception);

    public static void ExpiryNotQueued(ILogger logger, string cache, string key)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            ExpiryNotQueuedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key));
        }
    }

    [LoggerMessage(EventId = 4014, Level = LogLevel.Warning, Message = "Cache {Cache}: a lower tier failed the new expiry of {Key} and the write-behind queue is closed (the cache is stopping); that tier keeps the old expiry.")]
    private static partial void ExpiryNotQueuedCore(ILogger logger, string cache, string? key);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "Cache {Cache}: publishing the invalidation of {Count} keys to other instances failed; their L1 copies stay until expiry or resync.")]
    public static partial void CoherencePublishFailed(ILogger logger, string cache, int count, Exception exception);

    public static void FactoryAbandoned(ILogger logger, string cache, string? key, int keys, TimeSpan hardTimeout)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            FactoryAbandonedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), keys, hardTimeout);
        }
    }

    [LoggerMessage(EventId = 4015, Level = LogLevel.Warning, Message = "Cache {Cache}: the factory for {Key} ({Keys} keys) ran past its hard timeout {HardTimeout}; its token is cancelled and its value will not be stored.")]
    private static partial void FactoryAbandonedCore(ILogger logger, string cache, string? key, int keys, TimeSpan hardTimeout);

    public static void EagerRefreshStarted(ILogger logger, string cache, string key)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            EagerRefreshStartedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key));
        }
    }

    [LoggerMessage(EventId = 4016, Level = LogLevel.Debug, Message = "Cache {Cache}: {Key} was read near its expiry; refreshing it in the background (eager refresh).")]
    private static partial void EagerRefreshStartedCore(ILogger logger, string cache, string? key);

    public static void EagerRefreshFailed(ILogger logger, string cache, string key, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            EagerRefreshFailedCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), exception);
        }
    }

    [LoggerMessage(EventId = 4017, Level = LogLevel.Warning, Message = "Cache {Cache}: the eager refresh of {Key} failed; the value held is served until it expires.")]
    private static partial void EagerRefreshFailedCore(ILogger logger, string cache, string? key, Exception exception);

    [LoggerMessage(EventId = 4018, Level = LogLevel.Warning, Message = "Cache {Cache}: the write-behind journal could not forget {Count} written entries (retried each round; until then a restart would replay them).")]
    public static partial void JournalCompleteFailed(ILogger logger, string cache, int count, Exception exception);

    public static void JournalRefusedFill(ILogger logger, string cache, string key, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            JournalRefusedFillCore(logger, cache, TaiCacheDiagnostics.DescribeKey(key), exception);
        }
    }

    [LoggerMessage(EventId = 4019, Level = LogLevel.Warning, Message = "Cache {Cache}: the write-behind journal refused the factory value of {Key}; it is in L1 only (a copy, as on a full queue), not queued for the lower tiers.")]
    private static partial void JournalRefusedFillCore(ILogger logger, string cache, string? key, Exception exception);
}
#pragma warning restore CA1873
