namespace TaiCache.Tiering;

/// <summary>A write-behind queue was full and its policy is <see cref="WriteBehindFullPolicy.Reject"/>.</summary>
public sealed class WriteBehindQueueFullException : CacheException
{
    /// <summary>Initializes an exception.</summary>
    /// <param name="message">What went wrong; names the key with <see cref="TaiCacheDiagnostics.DescribeKey"/>.</param>
    /// <param name="key">The key whose write was refused.</param>
    /// <param name="capacity">The queue's capacity.</param>
    public WriteBehindQueueFullException(string message, string? key, int capacity)
        : base(message, key)
    {
        Capacity = capacity;
    }

    /// <summary>Gets the queue's capacity (distinct keys waiting).</summary>
    public int Capacity { get; }
}
