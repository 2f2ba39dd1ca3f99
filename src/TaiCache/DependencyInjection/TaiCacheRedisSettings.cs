using StackExchange.Redis;

namespace TaiCache.DependencyInjection;

/// <summary>
/// The Redis tier of a cache registered with <c>AddTaiCache</c>; configuration section <c>Redis</c>. The tier exists
/// when <see cref="ConnectionString"/> or <see cref="Multiplexer"/> is set.
/// </summary>
public sealed class TaiCacheRedisSettings
{
    /// <summary>Gets or sets the StackExchange.Redis connection string (never printed in messages or logs).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets an existing connection to share (code only, not bound); the cache never disposes it.</summary>
    public IConnectionMultiplexer? Multiplexer { get; set; }

    /// <summary>Gets or sets the namespace every key is stored under. Default empty.</summary>
    public string KeyPrefix { get; set; } = string.Empty;

    /// <summary>Gets or sets the longest one operation may take. Default 5 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the time to live of entries set without one; <see langword="null"/> (the default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets where the tier's own connection reads its socket. Default <see cref="Redis.RedisIoScheduling.Dedicated"/>.</summary>
    public Redis.RedisIoScheduling IoScheduling { get; set; } = Redis.RedisIoScheduling.Dedicated;

    /// <summary>
    /// Gets or sets whether each hit's expiry is read from Redis (<c>PTTL</c>) rather than from the value's record, for
    /// keys whose TTLs other clients change (see <see cref="Redis.RedisCacheOptions.ReadTtlFromServer"/>). Default <see langword="false"/>.
    /// </summary>
    public bool ReadTtlFromServer { get; set; }

    /// <summary>Gets or sets a hook run on the tier's options after the settings above are applied (code only, not bound).</summary>
    public Action<Redis.RedisCacheOptions>? Configure { get; set; }

    internal bool IsEnabled => Multiplexer is not null || !string.IsNullOrWhiteSpace(ConnectionString);
}
