namespace TaiCache;

/// <summary>
/// A tier (or a part of a cache) that refuses keys over a length, or with spaces: a <see cref="Tiering.MultiTierCache"/>
/// takes the smallest limit of its tiers as its own, and refuses spaces when any tier does, so a key one tier would
/// refuse is refused before any tier is written.
/// </summary>
internal interface IKeyLimited
{
    /// <summary>Gets the longest key accepted, in UTF-8 bytes.</summary>
    int MaxKeyBytes { get; }

    /// <summary>Gets the option that sets the limit, for messages (for example <c>RedisCacheOptions.MaxKeyBytes</c>).</summary>
    string KeyLimitOption { get; }

    /// <summary>Gets whether keys may hold spaces (memcached's text protocol forbids them).</summary>
    bool AllowsSpaces { get; }
}
