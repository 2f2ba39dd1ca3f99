namespace TaiCache;

/// <summary>The base of every exception TaiCache throws for a cache failure.</summary>
/// <remarks>
/// The key an operation was about is in <see cref="Key"/>. Messages name keys only by a short hash unless
/// <see cref="TaiCacheDiagnostics.IncludeKeysInMessages"/> is on, because keys often carry personal data (e-mail
/// addresses, user ids) and messages end up in logs.
/// </remarks>
public class CacheException : Exception
{
    /// <summary>Initializes an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public CacheException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public CacheException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes an exception about one key.</summary>
    /// <param name="message">What went wrong; name the key with <see cref="TaiCacheDiagnostics.DescribeKey"/>.</param>
    /// <param name="key">The key the operation was about.</param>
    /// <param name="innerException">The cause.</param>
    public CacheException(string message, string? key, Exception? innerException = null)
        : base(message, innerException)
    {
        Key = key;
    }

    /// <summary>Gets the key the failed operation was about, when there was one.</summary>
    public string? Key { get; }
}
