namespace TaiCache.Redis;

/// <summary>What one Redis server reported through <c>INFO</c>.</summary>
public sealed class RedisServerInfo
{
    /// <summary>Initializes the report.</summary>
    /// <param name="endPoint">The server's address.</param>
    /// <param name="isReplica">Whether the server is a replica.</param>
    /// <param name="values">The <c>INFO</c> fields, such as <c>redis_version</c> or <c>used_memory</c>.</param>
    public RedisServerInfo(string endPoint, bool isReplica, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(values);
        EndPoint = endPoint;
        IsReplica = isReplica;
        Values = values;
    }

    /// <summary>Gets the server's address (host and port).</summary>
    public string EndPoint { get; }

    /// <summary>Gets a value indicating whether the server is a replica.</summary>
    public bool IsReplica { get; }

    /// <summary>Gets the <c>INFO</c> fields by name.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }
}
