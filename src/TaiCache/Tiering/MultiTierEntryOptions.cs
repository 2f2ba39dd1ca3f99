namespace TaiCache.Tiering;

/// <summary>Per-call settings of a <see cref="MultiTierCache"/> read or write: expiry, fail-safe, factory timeout, eager refresh, tiers left out.</summary>
/// <remarks>Pass one instance many times: it is read, never copied or changed, by the cache.</remarks>
public sealed class MultiTierEntryOptions
{
    /// <summary>Gets or sets the time to live in the lower tiers (and in L1 unless <see cref="LocalTtl"/> is set); <see langword="null"/> for each tier's default.</summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>Gets or sets the time to live in L1 (usually shorter than <see cref="Ttl"/>); <see langword="null"/> to use <see cref="Ttl"/>.</summary>
    public TimeSpan? LocalTtl { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether a value may be served after its TTL when the tiers and the factory fail
    /// or time out (fail-safe). Default <see langword="false"/>.
    /// </summary>
    public bool AllowStaleOnFailure { get; set; }

    /// <summary>Gets or sets how long a value is kept for fail-safe after it was set. Default one hour.</summary>
    public TimeSpan FailSafeMaxDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets the longest a read waits for the factory of <see cref="MultiTierCache.GetOrSetAsync{TState, T}"/>:
    /// then it returns a stale value (when <see cref="AllowStaleOnFailure"/> and one is kept) or throws
    /// <see cref="CacheTimeoutException"/>. The factory keeps running and its value is stored when it completes.
    /// <see langword="null"/> (the default) waits for it.
    /// </summary>
    public TimeSpan? FactoryTimeout { get; set; }

    /// <summary>
    /// Gets or sets the longest a factory of <see cref="MultiTierCache.GetOrSetAsync{TState, T}"/> or
    /// <see cref="MultiTierCache.GetOrSetManyAsync{TState, T}"/> may run, from its start. Past it the load is abandoned:
    /// the token the factory was given is cancelled, whatever it returns later is not stored, the callers still waiting
    /// get a stale value (when <see cref="AllowStaleOnFailure"/> and one is kept) or <see cref="CacheTimeoutException"/>,
    /// and the next call for the key starts a new load. Without it, a factory that never returns holds its key's load
    /// (and every caller joining it) until the cache is disposed. At least <see cref="FactoryTimeout"/> when both are set;
    /// <see langword="null"/> (the default) lets the factory run as long as it takes.
    /// </summary>
    public TimeSpan? FactoryHardTimeout { get; set; }

    /// <summary>
    /// Gets or sets the share of <see cref="Ttl"/> after which <see cref="MultiTierCache.GetOrSetAsync{TState, T}"/>
    /// refreshes a value it finds ahead of its expiry (eager refresh): the caller gets the value held at once, and one
    /// background load per key runs the factory and stores its value in every tier, so readers of a hot key never wait
    /// for its factory when it expires. 0.8 refreshes a 10-minute value read after 8 minutes. The value's age is told by
    /// its expiry: an L1 copy's when <see cref="LocalTtl"/> is not set (or equals <see cref="Ttl"/>), a lower tier's hit's
    /// otherwise. The refresh has the call's <see cref="FactoryTimeout"/> and <see cref="FactoryHardTimeout"/>; a
    /// failed refresh is logged and leaves the value held until it expires. Between 0 and 1 (exclusive);
    /// <see langword="null"/> (the default) or no <see cref="Ttl"/> turns it off.
    /// <see cref="MultiTierCache.GetOrSetManyAsync{TState, T}"/> refreshes the keys of a call found in their window with
    /// one background call of its batch factory.
    /// </summary>
    public double? EagerRefreshThreshold { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the value stays out of the memory tiers (<see cref="InMemoryTier"/>):
    /// a set, a factory's value and a lower tier's hit copied upwards go to the other tiers only, and the memory tiers
    /// drop the copy they held of the key, so this instance does not serve an older value than it wrote. For values
    /// too large or too rarely read to keep in process. Default <see langword="false"/>.
    /// </summary>
    public bool SkipMemoryWrite { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the value stays out of every tier that is not a memory tier (Redis,
    /// memcached, SQLite): a set, a factory's value and a copy upwards go to the memory tiers only, the other tiers keep
    /// what they hold of the key (an older value or nothing, which an L1 miss reads again), and the cache's peers are not
    /// told (see <see cref="MultiTierCacheOptions.Coherence"/>). Under write-behind nothing is queued. For values only this
    /// process needs. Default <see langword="false"/>.
    /// </summary>
    public bool SkipDistributedWrite { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        CacheKeyRules.ValidateTtl(Ttl, "MultiTierEntryOptions.Ttl");
        CacheKeyRules.ValidateTtl(LocalTtl, "MultiTierEntryOptions.LocalTtl");
        if (LocalTtl is { } local && Ttl is { } ttl && local > ttl)
        {
            // L1 would serve the value after the tiers below have dropped it (copies read from below are capped; a
            // write's L1 entry takes LocalTtl as given).
            throw new ArgumentOutOfRangeException(nameof(LocalTtl), local, $"MultiTierEntryOptions.LocalTtl ({local}) must not exceed Ttl ({ttl}): L1's copy would outlive the value in the tiers below.");
        }

        if (FailSafeMaxDuration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FailSafeMaxDuration), FailSafeMaxDuration, "MultiTierEntryOptions.FailSafeMaxDuration must be positive.");
        }

        if (FactoryTimeout is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FactoryTimeout), t, "MultiTierEntryOptions.FactoryTimeout must be positive, or null to wait for the factory.");
        }

        if (FactoryHardTimeout is { } hard && (hard <= TimeSpan.Zero || hard < FactoryTimeout))
        {
            throw new ArgumentOutOfRangeException(nameof(FactoryHardTimeout), hard, $"MultiTierEntryOptions.FactoryHardTimeout must be positive and at least FactoryTimeout ({FactoryTimeout?.ToString() ?? "not set"}), or null to let the factory run.");
        }

        if (EagerRefreshThreshold is { } eager && !(eager > 0 && eager < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(EagerRefreshThreshold), eager, "MultiTierEntryOptions.EagerRefreshThreshold must be between 0 and 1 (exclusive), a share of Ttl, or null to turn eager refresh off.");
        }
    }

    internal TimeSpan? L1Ttl => LocalTtl ?? Ttl;

    internal MultiTierEntryOptions Clone() => (MultiTierEntryOptions)MemberwiseClone();

    /// <summary>
    /// These options for copying a value that has <paramref name="remaining"/> left in the tier it was found in: the
    /// copies' TTLs never outlast it (the same instance when they already do not).
    /// </summary>
    internal MultiTierEntryOptions CappedAt(TimeSpan remaining) =>
        Ttl is { } ttl && ttl <= remaining && (LocalTtl ?? ttl) <= remaining ? this : WithTtl(Ttl is { } t && t < remaining ? t : remaining);

    internal MultiTierEntryOptions WithTtl(TimeSpan? ttl)
    {
        var copy = Clone();
        copy.Ttl = ttl;
        copy.LocalTtl = LocalTtl is { } local && ttl is { } t && local < t ? local : ttl;
        return copy;
    }
}
