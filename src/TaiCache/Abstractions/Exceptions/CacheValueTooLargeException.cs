namespace TaiCache;

/// <summary>A value is larger than the backend accepts (memcached's item size limit, a configured maximum). Thrown before anything is sent.</summary>
public sealed class CacheValueTooLargeException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">The size and the limit.</param>
    /// <param name="key">The key.</param>
    public CacheValueTooLargeException(string message, string? key)
        : base(message, key)
    {
    }
}
