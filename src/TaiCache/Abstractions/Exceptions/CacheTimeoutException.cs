namespace TaiCache;

/// <summary>A cache operation did not complete within its timeout.</summary>
public sealed class CacheTimeoutException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What timed out and after how long.</param>
    /// <param name="key">The key the operation was about, if any.</param>
    /// <param name="innerException">The cause.</param>
    public CacheTimeoutException(string message, string? key = null, Exception? innerException = null)
        : base(message, key, innerException)
    {
    }

    /// <summary>
    /// Gets a value indicating whether only part of the cache timed out: one memcached node of several (stopped, hung,
    /// cut off, or with its connection pool exhausted) while another is not marked down, so that node's keys fail while
    /// the others are served; or one Redis Cluster primary hung (connected, not answering) while another primary is
    /// connected and has not timed out lately. Like <see cref="CacheConnectionException.IsPartialOutage"/>, set from
    /// the first timeout of the outage; <see langword="false"/> for a single server, or when every other node is marked
    /// down (every other primary timed out too).
    /// </summary>
    public bool IsPartialOutage { get; init; }
}
