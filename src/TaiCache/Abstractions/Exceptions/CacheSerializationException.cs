namespace TaiCache;

/// <summary>A value could not be serialized, or the bytes under a key could not be read back as the requested type.</summary>
public sealed class CacheSerializationException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What could not be read or written.</param>
    /// <param name="key">The key.</param>
    /// <param name="innerException">The serializer's exception.</param>
    public CacheSerializationException(string message, string? key, Exception? innerException = null)
        : base(message, key, innerException)
    {
    }
}
