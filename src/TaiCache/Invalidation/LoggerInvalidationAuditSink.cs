using Microsoft.Extensions.Logging;

namespace TaiCache.Invalidation;

/// <summary>
/// Writes each receipt as one structured log entry (event id 6010, level Information). Keys and the trigger value
/// are named through <see cref="TaiCacheDiagnostics.DescribeKey"/>: hashed unless the user opted in.
/// </summary>
public sealed class LoggerInvalidationAuditSink : IInvalidationAuditSink
{
    private readonly ILogger _logger;
    private readonly int _maxKeys;

    /// <summary>Initializes the sink.</summary>
    /// <param name="logger">The logger.</param>
    /// <param name="maxKeysPerEntry">The most keys named in one entry (the count is always exact). Default 20.</param>
    public LoggerInvalidationAuditSink(ILogger logger, int maxKeysPerEntry = 20)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfNegative(maxKeysPerEntry);
        _logger = logger;
        _maxKeys = maxKeysPerEntry;
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(InvalidationReceipt receipt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var keys = string.Join(", ", receipt.Keys.Take(_maxKeys).Select(static k => TaiCacheDiagnostics.DescribeKey(k.Key)));
            if (receipt.Keys.Count > _maxKeys)
            {
                keys += ", ...";
            }

            var trigger = DescribeTrigger(receipt);
            Log.Receipt(_logger, receipt.Id, receipt.Timestamp, receipt.Trigger, trigger, receipt.Strategy, receipt.OriginInstance, receipt.Keys.Count, keys, receipt.Cycles.Count, receipt.Duration.TotalMilliseconds);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Names a receipt's trigger value safely: keys, tags and event names hashed; patterns are code, not data, but may embed user input, so they are hashed too.</summary>
    internal static string DescribeTrigger(InvalidationReceipt receipt) => TaiCacheDiagnostics.DescribeKey(receipt.TriggerValue);
}
