namespace TaiCache.Memcached.Protocol;

/// <summary>An error line inside a pipelined batch; turned into a <see cref="CacheException"/> by the cache.</summary>
internal sealed class BatchErrorException : Exception
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="response">The error response.</param>
    public BatchErrorException(MetaResponse response)
        : base("memcached answered an error line inside a batch.")
    {
        Response = response;
    }

    /// <summary>Gets the error response.</summary>
    public MetaResponse Response { get; }
}
