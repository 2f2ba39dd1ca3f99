namespace TaiCache.Invalidation;

/// <summary>Options of an <see cref="InvalidationAuditLog"/>. Validated once and copied when the log is built.</summary>
public sealed class InvalidationAuditLogOptions
{
    /// <summary>Gets or sets how many receipts are kept in memory (the oldest go first). Default 1,024.</summary>
    public int Capacity { get; set; } = 1024;

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

        if (Sinks.Any(static s => s is null))
        {
            throw new ArgumentException("InvalidationAuditLogOptions.Sinks must not contain null.", nameof(Sinks));
        }
    }

    internal InvalidationAuditLogOptions Clone()
    {
        var copy = new InvalidationAuditLogOptions { Capacity = Capacity };
        foreach (var sink in Sinks)
        {
            copy.Sinks.Add(sink);
        }

        return copy;
    }
}
