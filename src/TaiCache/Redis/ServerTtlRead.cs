using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>A stored value read with Redis's TTL for it: its bytes (null for a missing key) and the expiry to report (Unix ms, 0 for none).</summary>
/// <param name="Raw">The stored bytes.</param>
/// <param name="ExpiresAtUnixMs">The expiry to report.</param>
internal readonly record struct ServerTtlRead(RedisValue Raw, long ExpiresAtUnixMs)
{
    /// <summary>Gets whether the key held no value.</summary>
    public bool IsNull => Raw.IsNull;
}
