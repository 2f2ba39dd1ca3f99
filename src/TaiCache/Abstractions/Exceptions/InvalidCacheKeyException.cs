namespace TaiCache;

/// <summary>A key breaks the key rules (empty, whitespace-only, too long, control characters, invalid UTF-16). Thrown before anything reaches a server.</summary>
public sealed class InvalidCacheKeyException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">Which rule the key breaks.</param>
    /// <param name="key">The key.</param>
    public InvalidCacheKeyException(string message, string? key)
        : base(message, key)
    {
    }
}
