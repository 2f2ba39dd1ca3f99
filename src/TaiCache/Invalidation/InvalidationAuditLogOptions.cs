namespace TaiCache.Invalidation;

/// <summary>Options of an <see cref="InvalidationAuditLog"/>. Validated once and copied when the log is built.</summary>
public sealed class InvalidationAuditLogOptions
{
    /// <summary>Gets or sets how many receipts are kept in memory (the oldest go first). Default 1,024.</summary>
    public int Capacity { get; set; } = 1024;

    /// <summary>
    /// Gets or sets the most invalidated keys kept across all held receipts, the keys of their reported cycles counted
    /// too (a 10,000-key fan-out holds 10,000); the
    /// oldest receipts go first when it is exceeded, so memory stays bounded by size, not only by count. The newest
    /// receipt is always kept. Default 1,000,000.
    /// </summary>
    public long MaxRetainedKeys { get; set; } = 1_000_000;

    /// <summary>Gets the sinks every receipt is also written to.</summary>
    public IList<IInvalidationAuditSink> Sinks { get; } = [];

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity, "InvalidationAuditLogOptions.Capacity must be positive: the audit log is bounded.");
        }

        if (MaxRetainedKeys <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRetainedKeys), MaxRetainedKeys, "InvalidationAuditLogOptions.MaxRetainedKeys must be positive.");
        }

        if (Sinks.Any(static s => s is null))
        {
            throw new ArgumentException("InvalidationAuditLogOptions.Sinks must not contain null.", nameof(Sinks));
        }
    }

    internal InvalidationAuditLogOptions Clone()
    {
        var copy = new InvalidationAuditLogOptions { Capacity = Capacity, MaxRetainedKeys = MaxRetainedKeys };
        foreach (var sink in Sinks)
        {
            copy.Sinks.Add(sink);
        }

        return copy;
    }
}
