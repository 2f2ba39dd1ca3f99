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
}
