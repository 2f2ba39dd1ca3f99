namespace TaiCache;

/// <summary>
/// A value is larger than the backend accepts (memcached's item size limit, a configured maximum): thrown before anything
/// is sent, or, reading, for a stored item larger than the configured maximum (written by another client with a larger
/// limit), whose bytes are then discarded unread.
/// </summary>
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
