namespace TaiCache;

/// <summary>Tells a failure of part of a tier (one memcached node of several, one Cluster primary) from a whole outage.</summary>
internal static class PartialOutage
{
    /// <summary>
    /// Whether the exception says only some of the tier's keys failed: a <see cref="CacheConnectionException"/> or
    /// <see cref="CacheTimeoutException"/> with <c>IsPartialOutage</c> set.
    /// </summary>
    public static bool Is(Exception e) => e is CacheConnectionException { IsPartialOutage: true } or CacheTimeoutException { IsPartialOutage: true };
}
