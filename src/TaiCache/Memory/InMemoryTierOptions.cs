namespace TaiCache;

/// <summary>Options of an <see cref="InMemoryTier"/>. Validated once and copied when the tier is built.</summary>
public sealed class InMemoryTierOptions
{
    /// <summary>Gets or sets the tier's name (metrics, logs). Default <c>memory</c>.</summary>
    public string Name { get; set; } = "memory";

    /// <summary>
    /// Gets or sets the capacity: the most entries held, or, with a <see cref="Weigher"/>, the most total weight.
    /// Must be positive. Default 10,000 entries.
    /// </summary>
    public long MaximumSize { get; set; } = 10_000;

    /// <summary>Gets or sets a function giving each entry's weight (for example its size in bytes); <see langword="null"/> counts entries. Must return zero or more.</summary>
    public Func<string, object?, long>? Weigher { get; set; }

    /// <summary>Gets or sets the time to live of entries set without one; <see langword="null"/> for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets a sliding expiry: an entry not read for this long expires, even before its TTL. <see langword="null"/> for none.</summary>
    public TimeSpan? SlidingExpiration { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the tier stores serialized copies instead of the objects themselves,
    /// for callers that mutate what they read. Costs a serialization per write and a deserialization per read.
    /// </summary>
    public bool StoreSerializedCopies { get; set; }

    /// <summary>
    /// Gets or sets the longest key accepted, in UTF-8 bytes. Default 1024. A <see cref="Tiering.MultiTierCache"/> refuses
    /// keys over the smallest limit of its tiers, so raise it with the lower tiers' limits for longer keys.
    /// </summary>
    public int MaxKeyBytes { get; set; } = CacheKeyRules.DefaultMaxKeyBytes;

    /// <summary>Gets or sets the clock. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the metrics collector the tier reports to; <see langword="null"/> for none.</summary>
    public Metrics.MetricsCollector? Metrics { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("InMemoryTierOptions.Name must not be empty.", nameof(Name));
        }

        if (MaximumSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaximumSize), MaximumSize, "InMemoryTierOptions.MaximumSize must be positive: an in-memory tier is never unbounded.");
        }

        if (Weigher is not null && MaximumSize > long.MaxValue / 2)
        {
            // The total weight is a long: with entries weighing up to the bound, two of them must still add up.
            throw new ArgumentOutOfRangeException(nameof(MaximumSize), MaximumSize, "InMemoryTierOptions.MaximumSize must be at most long.MaxValue / 2 with a Weigher.");
        }

        if (MaxKeyBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, "InMemoryTierOptions.MaxKeyBytes must be positive.");
        }

        if (DefaultTtl is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultTtl), ttl, "InMemoryTierOptions.DefaultTtl must be positive, or null for none.");
        }

        if (SlidingExpiration is { } sliding && sliding <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SlidingExpiration), sliding, "InMemoryTierOptions.SlidingExpiration must be positive, or null for none.");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("InMemoryTierOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    internal InMemoryTierOptions Clone() => (InMemoryTierOptions)MemberwiseClone();
}
