using System.Globalization;
using StackExchange.Redis;

namespace TaiCache.Invalidation;

/// <summary>
/// Appends each receipt to a Redis stream (<c>XADD ... MAXLEN ~ n</c>), so receipts from every instance land in one
/// place that can be read with <c>XRANGE</c> or a consumer group. Keys are written through
/// <see cref="TaiCacheDiagnostics.DescribeKey"/> (hashed unless the user opted in).
/// </summary>
public sealed class RedisStreamInvalidationAuditSink : IInvalidationAuditSink
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisKey _stream;
    private readonly int _maxLength;
    private readonly int _database;

    /// <summary>Initializes the sink.</summary>
    /// <param name="connection">The Redis connection.</param>
    /// <param name="streamKey">The stream's key. Default <c>taicache:inv:audit</c>.</param>
    /// <param name="maxLength">The approximate most entries kept in the stream. Default 10,000.</param>
    /// <param name="database">The database number (-1 for the connection's default).</param>
    public RedisStreamInvalidationAuditSink(IConnectionMultiplexer connection, string streamKey = "taicache:inv:audit", int maxLength = 10_000, int database = -1)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(streamKey);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        _connection = connection;
        _stream = streamKey;
        _maxLength = maxLength;
        _database = database;
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(InvalidationReceipt receipt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        NameValueEntry[] fields =
        [
            new("id", receipt.Id.ToString("D")),
            new("time", receipt.Timestamp.ToString("O", CultureInfo.InvariantCulture)),
            new("trigger", receipt.Trigger.ToString()),
            new("value", LoggerInvalidationAuditSink.DescribeTrigger(receipt)),
            new("strategy", receipt.Strategy.ToString()),
            new("origin", receipt.OriginInstance),
            new("keys", string.Join(',', receipt.Keys.Select(static k => TaiCacheDiagnostics.DescribeKey(k.Key)))),
            new("count", receipt.Keys.Count),
            new("cycles", receipt.Cycles.Count),
            new("duration_ms", receipt.Duration.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)),
            new("failed_tiers", string.Join(',', receipt.FailedTiers)), // empty when every tier took the invalidation
            new("cleared_tiers", string.Join(',', receipt.ClearedTiers)),
        ];
        await _connection.GetDatabase(_database)
            .StreamAddAsync(_stream, fields, maxLength: _maxLength, useApproximateMaxLength: true)
            .ConfigureAwait(false);
    }
}
