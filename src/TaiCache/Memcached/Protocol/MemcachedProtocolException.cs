namespace TaiCache.Memcached.Protocol;

/// <summary>The bytes from the server do not form a valid meta-protocol response; the connection is dropped.</summary>
internal sealed class MemcachedProtocolException : Exception
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What was wrong (never the value bytes).</param>
    public MemcachedProtocolException(string message)
        : base(message)
    {
    }
}
