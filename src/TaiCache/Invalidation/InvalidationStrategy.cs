namespace TaiCache.Invalidation;

/// <summary>How an <see cref="InvalidationManager"/> treats each key an invalidation reaches.</summary>
/// <remarks>
/// What starts an invalidation (a key, a tag, a pattern, a named event, a scheduled time) is its
/// <see cref="InvalidationTrigger"/>; any trigger can use any strategy.
/// </remarks>
public enum InvalidationStrategy
{
    /// <summary>Remove the keys from every tier now.</summary>
    Eager = 0,

    /// <summary>
    /// Mark the keys stale without touching the tiers; the next read through the manager treats a stale key as missing
    /// (and removes it then), and the next write through the manager clears the mark.
    /// </summary>
    Lazy = 1,

    /// <summary>Shorten each key's remaining time to live to <see cref="InvalidationManagerOptions.ShortenedTtl"/> (never lengthen it), so it ages out soon.</summary>
    Ttl = 2,
}
