namespace TaiCache.Tiering;

/// <summary>How a <see cref="MultiTierCache"/> carries a write down its tiers.</summary>
public enum WriteStrategy
{
    /// <summary>
    /// A write returns after every tier has it. Lower tiers are written first, so a failure never leaves an upper tier
    /// holding a value a lower tier refused; the failure is reported as a <see cref="TierWriteException"/>.
    /// </summary>
    WriteThrough = 0,

    /// <summary>
    /// A write returns after the first tier (L1) has it; a background flusher writes the lower tiers in batches,
    /// coalescing repeated writes to one key (latest wins). See <see cref="WriteBehindOptions"/>.
    /// </summary>
    WriteBehind = 1,
}
