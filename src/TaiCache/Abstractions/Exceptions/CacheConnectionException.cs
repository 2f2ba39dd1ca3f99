namespace TaiCache;

/// <summary>The cache server could not be reached or the connection broke. Never carries a password.</summary>
public sealed class CacheConnectionException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What went wrong (server endpoint, never credentials).</param>
    /// <param name="innerException">The cause.</param>
    public CacheConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes the exception for an operation on one key.</summary>
    /// <param name="message">What went wrong (server endpoint, never credentials).</param>
    /// <param name="key">The key the operation was about.</param>
    /// <param name="innerException">The cause.</param>
    public CacheConnectionException(string message, string? key, Exception? innerException)
        : base(message, key, innerException)
    {
    }

    /// <summary>
    /// Gets a value indicating whether only part of the cache is unreachable: one server of several (a memcached node
    /// marked down under <c>MemcachedFailoverPolicy.FailFast</c>, or whose connect or connection has just failed) while
    /// another is not marked down, so its keys fail while the others are served. A <c>MultiTierCache</c> does not count such a failure against the tier's circuit breaker, so the healthy
    /// servers stay in use.
    /// </summary>
    public bool IsPartialOutage { get; init; }
}
