using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TaiCache.Metrics;
using TaiCache.Serialization;

namespace TaiCache.Redis;

/// <summary>Options of a <see cref="RedisCache"/>. Validated once and copied when the cache is built.</summary>
public sealed class RedisCacheOptions
{
    /// <summary>The longest key prefix accepted, in characters.</summary>
    public const int MaxKeyPrefixLength = 256;

    /// <summary>Gets or sets the cache's name (metrics, logs, error messages). Default <c>redis</c>.</summary>
    public string Name { get; set; } = "redis";

    /// <summary>
    /// Gets or sets the StackExchange.Redis connection string (for example <c>localhost:6379,password=...,ssl=true</c>),
    /// used when the cache connects by itself. Never printed in logs or exception messages.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Gets or sets a full StackExchange.Redis configuration, used instead of <see cref="ConnectionString"/> when set
    /// (TLS certificate callbacks, ACL user names, custom endpoints). The cache works on a copy.
    /// </summary>
    public ConfigurationOptions? Configuration { get; set; }

    /// <summary>
    /// Gets or sets the namespace every key is stored under, such as <c>"tenant-a:"</c>. Two caches with different
    /// prefixes on one server never see each other's keys, including through key scans.
    /// Empty (the default) for none. Must not contain control characters.
    /// </summary>
    public string KeyPrefix { get; set; } = string.Empty;

    /// <summary>Gets or sets the longest key accepted, in UTF-8 bytes, not counting <see cref="KeyPrefix"/>. Default 1024.</summary>
    public int MaxKeyBytes { get; set; } = CacheKeyRules.DefaultMaxKeyBytes;

    /// <summary>Gets or sets how values become stored bytes (serializer, compression, limits).</summary>
    public CacheSerializationOptions Serialization { get; set; } = new();

    /// <summary>Gets or sets the time to live of values set without one; <see langword="null"/> (the default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>
    /// Gets or sets how long one operation may take before it fails with <see cref="CacheTimeoutException"/> (or
    /// <see cref="CacheConnectionException"/> when no server is reachable). Also the connect timeout when the cache
    /// builds its own connection. Default 5 seconds.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets where a connection the cache opens itself reads its socket. Default
    /// <see cref="RedisIoScheduling.Dedicated"/>; see <see cref="RedisIoScheduling"/> for the trade-off.
    /// </summary>
    public RedisIoScheduling IoScheduling { get; set; } = RedisIoScheduling.Dedicated;

    /// <summary>
    /// Gets or sets whether reads take a hit's expiry from Redis (<c>PTTL</c>) instead of the one its writer recorded in
    /// the value. Turn it on when other clients change the TTLs of this cache's keys (<c>EXPIRE</c>, <c>PEXPIRE</c>,
    /// <c>PERSIST</c>): then <see cref="CacheResult{T}.ExpiresAt"/>, which bounds the copies a
    /// <see cref="Tiering.MultiTierCache"/> keeps in its upper tiers, never claims more life than Redis gives the key.
    /// The value and its TTL are read in one step (a script running <c>GET</c> and <c>PTTL</c>), so the TTL reported is
    /// always the reported value's: <see cref="RedisCache.GetAsync{T}"/> sends that one command instead of its <c>GET</c>;
    /// a batch read sends one per hit after its <c>MGET</c>s (one more round trip). Default <see langword="false"/>:
    /// the recorded expiry is used, except that a hit whose recorded expiry has already passed asks Redis (see docs/redis.md).
    /// </summary>
    public bool ReadTtlFromServer { get; set; }

    /// <summary>Gets or sets where logs go; none when <see langword="null"/>.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Gets or sets the clock. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the metrics collector the cache reports to; <see langword="null"/> for none.</summary>
    public MetricsCollector? Metrics { get; set; }

    /// <summary>What is wrong with a key prefix (a sentence to follow its name), or <see langword="null"/> when it is fine.</summary>
    /// <param name="prefix">The prefix, not null.</param>
    /// <returns>The problem, or <see langword="null"/>.</returns>
    internal static string? KeyPrefixProblem(string prefix)
    {
        if (prefix.Length > MaxKeyPrefixLength)
        {
            return $"must be at most {MaxKeyPrefixLength} characters; it was {prefix.Length}.";
        }

        return prefix.Any(c => char.IsControl(c) || char.IsSurrogate(c)) ? "must not contain control characters or surrogates." : null;
    }

    /// <summary>Checks the options; throws naming the first bad one. Never echoes the connection string.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("RedisCacheOptions.Name must not be empty.", nameof(Name));
        }

        if (KeyPrefix is null)
        {
            throw new ArgumentException("RedisCacheOptions.KeyPrefix must not be null; use an empty string for no prefix.", nameof(KeyPrefix));
        }

        if (KeyPrefixProblem(KeyPrefix) is { } problem)
        {
            throw new ArgumentException($"RedisCacheOptions.KeyPrefix {problem}", nameof(KeyPrefix));
        }

        if (MaxKeyBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, "RedisCacheOptions.MaxKeyBytes must be positive.");
        }

        if (Serialization is null)
        {
            throw new ArgumentException("RedisCacheOptions.Serialization must not be null.", nameof(Serialization));
        }

        Serialization.Validate();

        if (DefaultTtl is { } ttl && (ttl <= TimeSpan.Zero || ttl == Timeout.InfiniteTimeSpan))
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultTtl), ttl, "RedisCacheOptions.DefaultTtl must be positive, or null for none.");
        }

        if (OperationTimeout <= TimeSpan.Zero || OperationTimeout > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(OperationTimeout), OperationTimeout, "RedisCacheOptions.OperationTimeout must be positive and at most 10 minutes.");
        }

        if (!Enum.IsDefined(IoScheduling))
        {
            throw new ArgumentOutOfRangeException(nameof(IoScheduling), IoScheduling, "RedisCacheOptions.IoScheduling must be Dedicated or ThreadPool.");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("RedisCacheOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    internal RedisCacheOptions Clone()
    {
        var copy = (RedisCacheOptions)MemberwiseClone();
        copy.Configuration = Configuration?.Clone();
        return copy;
    }
}
