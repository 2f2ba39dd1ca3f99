using StackExchange.Redis;

namespace TaiCache.Invalidation;

/// <summary>Options of an <see cref="InvalidationManager"/>. Validated once and copied when the manager is built.</summary>
public sealed class InvalidationManagerOptions
{
    /// <summary>Gets or sets the strategy used when a call names none. Default <see cref="InvalidationStrategy.Eager"/>.</summary>
    public InvalidationStrategy DefaultStrategy { get; set; } = InvalidationStrategy.Eager;

    /// <summary>Gets or sets how many levels of dependents a cascade follows (0: only the keys named). Default 64.</summary>
    public int MaxCascadeDepth { get; set; } = DependencyGraph.DefaultMaxDepth;

    /// <summary>Gets or sets the time to live the <see cref="InvalidationStrategy.Ttl"/> strategy leaves a key with (never lengthening a shorter one). Default 5 seconds.</summary>
    public TimeSpan ShortenedTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the most keys the <see cref="InvalidationStrategy.Lazy"/> strategy keeps marked; beyond it, keys
    /// are removed eagerly instead, so memory stays bounded. Default 100,000.
    /// </summary>
    public int MaxStaleMarks { get; set; } = 100_000;

    /// <summary>
    /// Gets or sets the most keys the manager remembers having written (for pattern invalidation on tiers that
    /// cannot list their keys, like <see cref="InMemoryTier"/>). Beyond it, a pattern invalidation clears in-memory
    /// tiers whole (correct, at the cost of hit ratio) and says so in <see cref="InvalidationReceipt.ClearedTiers"/>.
    /// Default 1,000,000.
    /// </summary>
    public int MaxTrackedKeys { get; set; } = 1_000_000;

    /// <summary>Gets or sets this instance's id, stamped on receipts and broadcasts; <see langword="null"/> for a random one.</summary>
    public string? InstanceId { get; set; }

    /// <summary>Gets or sets the clock. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the audit log receipts go to; <see langword="null"/> for a private one with default options.</summary>
    public InvalidationAuditLog? AuditLog { get; set; }

    /// <summary>
    /// Gets or sets a Redis connection holding the dependency graph and tags in sets, shared by every instance using
    /// the same <see cref="RedisKeyPrefix"/>; <see langword="null"/> keeps them in process.
    /// </summary>
    public IConnectionMultiplexer? Redis { get; set; }

    /// <summary>Gets or sets the prefix of the Redis keys holding the graph and tags. Default <c>taicache:inv:</c>.</summary>
    public string RedisKeyPrefix { get; set; } = "taicache:inv:";

    /// <summary>Gets or sets the Redis database number (-1 for the connection's default).</summary>
    public int RedisDatabase { get; set; } = -1;

    /// <summary>Gets or sets a broadcaster telling other instances to drop invalidated keys from their L1; <see langword="null"/> for none.</summary>
    public BroadcastInvalidator? Broadcaster { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(DefaultStrategy))
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultStrategy), DefaultStrategy, "InvalidationManagerOptions.DefaultStrategy is not a known strategy.");
        }

        if (MaxCascadeDepth < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCascadeDepth), MaxCascadeDepth, "InvalidationManagerOptions.MaxCascadeDepth must be zero or more.");
        }

        if (ShortenedTtl <= TimeSpan.Zero || ShortenedTtl == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ShortenedTtl), ShortenedTtl, "InvalidationManagerOptions.ShortenedTtl must be positive and finite.");
        }

        if (MaxStaleMarks < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxStaleMarks), MaxStaleMarks, "InvalidationManagerOptions.MaxStaleMarks must be zero or more.");
        }

        if (MaxTrackedKeys < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTrackedKeys), MaxTrackedKeys, "InvalidationManagerOptions.MaxTrackedKeys must be zero or more.");
        }

        if (InstanceId is not null && string.IsNullOrWhiteSpace(InstanceId))
        {
            throw new ArgumentException("InvalidationManagerOptions.InstanceId must not be blank; leave it null for a random id.", nameof(InstanceId));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("InvalidationManagerOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }

        if (string.IsNullOrEmpty(RedisKeyPrefix))
        {
            throw new ArgumentException("InvalidationManagerOptions.RedisKeyPrefix must not be empty.", nameof(RedisKeyPrefix));
        }

        if (RedisDatabase < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(RedisDatabase), RedisDatabase, "InvalidationManagerOptions.RedisDatabase must be -1 or a database number.");
        }
    }

    /// <summary>Copies the options.</summary>
    /// <returns>A copy.</returns>
    public InvalidationManagerOptions Clone() => (InvalidationManagerOptions)MemberwiseClone();
}
