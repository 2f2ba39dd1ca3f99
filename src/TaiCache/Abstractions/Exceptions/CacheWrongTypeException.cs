namespace TaiCache;

/// <summary>An operation met a key holding another kind of value (Redis <c>WRONGTYPE</c>, a list used as a string, a non-numeric counter).</summary>
public sealed class CacheWrongTypeException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What was expected and what was found.</param>
    /// <param name="key">The key.</param>
    /// <param name="innerException">The cause.</param>
    public CacheWrongTypeException(string message, string? key, Exception? innerException = null)
        : base(message, key, innerException)
    {
    }
}
