namespace TaiCache;

/// <summary>Turns a TTL into the moment it ends without overflowing: a TTL reaching past the calendar ends at its last moment.</summary>
internal static class Deadline
{
    /// <summary>Gets the moment a TTL counted from <paramref name="now"/> ends.</summary>
    /// <param name="now">The moment the TTL starts.</param>
    /// <param name="ttl">A positive TTL (up to <see cref="TimeSpan.MaxValue"/>).</param>
    /// <returns><paramref name="now"/> plus <paramref name="ttl"/>, or <see cref="DateTimeOffset.MaxValue"/> when that is past it.</returns>
    public static DateTimeOffset After(DateTimeOffset now, TimeSpan ttl) =>
        ttl >= DateTimeOffset.MaxValue - now ? DateTimeOffset.MaxValue : now + ttl;
}
