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
}
