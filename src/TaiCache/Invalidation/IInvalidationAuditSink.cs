namespace TaiCache.Invalidation;

/// <summary>Somewhere receipts are written besides the in-memory <see cref="InvalidationAuditLog"/> (a log, a Redis stream).</summary>
public interface IInvalidationAuditSink
{
    /// <summary>Writes one receipt. A failure is logged and never fails the invalidation.</summary>
    /// <param name="receipt">The receipt.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the receipt is written.</returns>
    ValueTask WriteAsync(InvalidationReceipt receipt, CancellationToken cancellationToken = default);
}
