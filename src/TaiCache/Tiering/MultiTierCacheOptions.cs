using Microsoft.Extensions.Logging;
using TaiCache.Tiering.Coherence;

namespace TaiCache.Tiering;

/// <summary>Options of a <see cref="MultiTierCache"/>. Validated once and copied when the cache is built.</summary>
public sealed class MultiTierCacheOptions
{
    /// <summary>Gets or sets the cache's name (logs, metrics, errors). Default <c>multitier</c>.</summary>
    public string Name { get; set; } = "multitier";

    /// <summary>
    /// Gets the tiers, fastest first: typically an <see cref="InMemoryTier"/> as L1 (its synchronous, allocation-free
    /// hit path is then used), a distributed cache as L2 and a persistent store as L3. At least one.
    /// </summary>
    public IList<ICacheOps> Tiers { get; } = new List<ICacheOps>();

    /// <summary>Gets or sets how writes go down the tiers. Default <see cref="Tiering.WriteStrategy.WriteThrough"/>.</summary>
    public WriteStrategy WriteStrategy { get; set; } = WriteStrategy.WriteThrough;

    /// <summary>Gets or sets how reads fill the tiers. Default <see cref="Tiering.ReadStrategy.ReadThrough"/>.</summary>
    public ReadStrategy ReadStrategy { get; set; } = ReadStrategy.ReadThrough;

    /// <summary>
    /// Gets or sets a value indicating whether a write-through write that a lower tier refuses still succeeds in the
    /// other tiers (the failure is logged, not thrown). Default <see langword="false"/>: the write fails with a
    /// <see cref="TierWriteException"/>.
    /// </summary>
    public bool BestEffortWrites { get; set; }

    /// <summary>Gets or sets the entry settings used when a call gives none (and for values copied up from lower tiers).</summary>
    public MultiTierEntryOptions DefaultEntryOptions { get; set; } = new();

    /// <summary>
    /// Gets or sets the longest a call to a lower tier (L2, L3) may take before it counts as failed and the read moves
    /// on (fail-safe). <see langword="null"/> (the default) relies on each tier's own timeout.
    /// </summary>
    public TimeSpan? TierTimeout { get; set; }

    /// <summary>Gets or sets how many consecutive failures of a lower tier open its circuit. Default 5; 0 disables the breaker.</summary>
    public int CircuitBreakerFailureThreshold { get; set; } = 5;

    /// <summary>Gets or sets how long an open circuit skips its tier before a probe call is let through. Default 5 s.</summary>
    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the most values kept for fail-safe (stale reads). Default 10,000.</summary>
    public long FailSafeMaxEntries { get; set; } = 10_000;

    /// <summary>Gets or sets the write-behind settings (used with <see cref="WriteStrategy.WriteBehind"/>).</summary>
    public WriteBehindOptions WriteBehind { get; set; } = new();

    /// <summary>
    /// Gets or sets the coherence channel that keeps the L1 of other instances sharing the lower tiers coherent: after a
    /// set, delete or expiry reached the lower tiers, the cache publishes the keys so the other instances drop their L1
    /// copies. <see langword="null"/> (the default) for none. The cache does not dispose it.
    /// </summary>
    public CacheCoherence? Coherence { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether disposing the cache disposes its tiers (a <c>RedisCache</c>'s connection
    /// included). Default <see langword="true"/>; set <see langword="false"/> when tiers are shared with other caches.
    /// </summary>
    public bool OwnsTiers { get; set; } = true;

    /// <summary>
    /// Gets or sets the longest key the cache accepts, in UTF-8 bytes; a longer key is refused with
    /// <see cref="InvalidCacheKeyException"/> before any tier is called. <see langword="null"/> (the default) takes the
    /// smallest limit of the built-in tiers and the <see cref="Coherence"/> (each tier's own <c>MaxKeyBytes</c> option;
    /// 1024 when none of the tiers is built in). A value above a built-in tier's limit is refused at construction.
    /// </summary>
    public int? MaxKeyBytes { get; set; }

    /// <summary>Gets or sets the clock (circuit breaker, retry delays, timeouts, fail-safe). Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger; <see langword="null"/> for none.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is missing or out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("MultiTierCacheOptions.Name must not be empty.", nameof(Name));
        }

        if (Tiers.Count == 0)
        {
            throw new ArgumentException("MultiTierCacheOptions.Tiers must hold at least one tier.", nameof(Tiers));
        }

        for (var i = 0; i < Tiers.Count; i++)
        {
            if (Tiers[i] is null)
            {
                throw new ArgumentException($"MultiTierCacheOptions.Tiers[{i}] is null.", nameof(Tiers));
            }

            for (var j = 0; j < i; j++)
            {
                if (ReferenceEquals(Tiers[i], Tiers[j]))
                {
                    throw new ArgumentException($"MultiTierCacheOptions.Tiers[{i}] is the same instance as Tiers[{j}].", nameof(Tiers));
                }
            }
        }

        if (!Enum.IsDefined(WriteStrategy))
        {
            throw new ArgumentOutOfRangeException(nameof(WriteStrategy), WriteStrategy, "MultiTierCacheOptions.WriteStrategy is not a known strategy.");
        }

        if (!Enum.IsDefined(ReadStrategy))
        {
            throw new ArgumentOutOfRangeException(nameof(ReadStrategy), ReadStrategy, "MultiTierCacheOptions.ReadStrategy is not a known strategy.");
        }

        if (DefaultEntryOptions is null)
        {
            throw new ArgumentException("MultiTierCacheOptions.DefaultEntryOptions must not be null.", nameof(DefaultEntryOptions));
        }

        DefaultEntryOptions.Validate();
        if (Coherence is { } coherence && !Tiers.Any(t => ReferenceEquals(t, coherence.LocalTier)))
        {
            // Built over another InMemoryTier, the coherence would evict keys from a tier this cache never reads.
            throw new ArgumentException(
                $"MultiTierCacheOptions.Coherence watches the InMemoryTier '{coherence.LocalTier.Name}', which is not one of Tiers: other instances' writes would never evict this cache's L1. Build the CacheCoherence over the same InMemoryTier you add to Tiers.",
                nameof(Coherence));
        }

        if (MaxKeyBytes is { } maxKeyBytes)
        {
            if (maxKeyBytes <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), maxKeyBytes, "MultiTierCacheOptions.MaxKeyBytes must be positive, or null for the smallest limit of the tiers.");
            }

            foreach (var limited in Tiers.OfType<IKeyLimited>().Append(Coherence as IKeyLimited))
            {
                if (limited is not null && limited.MaxKeyBytes < maxKeyBytes)
                {
                    throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), maxKeyBytes, $"MultiTierCacheOptions.MaxKeyBytes ({maxKeyBytes}) is above the {limited.MaxKeyBytes} bytes of {limited.KeyLimitOption}: that part of the cache would refuse keys the cache accepted. Raise its limit, or leave MaxKeyBytes null.");
                }
            }
        }

        if (TierTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(TierTimeout), timeout, "MultiTierCacheOptions.TierTimeout must be positive, or null for the tiers' own timeouts.");
        }

        if (CircuitBreakerFailureThreshold < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(CircuitBreakerFailureThreshold), CircuitBreakerFailureThreshold, "MultiTierCacheOptions.CircuitBreakerFailureThreshold must be zero (off) or more.");
        }

        if (CircuitBreakerBreakDuration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CircuitBreakerBreakDuration), CircuitBreakerBreakDuration, "MultiTierCacheOptions.CircuitBreakerBreakDuration must be positive.");
        }

        if (FailSafeMaxEntries <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(FailSafeMaxEntries), FailSafeMaxEntries, "MultiTierCacheOptions.FailSafeMaxEntries must be positive.");
        }

        if (WriteBehind is null)
        {
            throw new ArgumentException("MultiTierCacheOptions.WriteBehind must not be null.", nameof(WriteBehind));
        }

        WriteBehind.Validate();
        if (TimeProvider is null)
        {
            throw new ArgumentException("MultiTierCacheOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    internal MultiTierCacheOptions Clone()
    {
        var copy = (MultiTierCacheOptions)MemberwiseClone();
        copy.DefaultEntryOptions = DefaultEntryOptions?.Clone()!;
        copy.WriteBehind = WriteBehind?.Clone()!;
        return copy;
    }
}
