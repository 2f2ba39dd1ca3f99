namespace TaiCache.Tiering;

/// <summary>One tier of a <see cref="MultiTierCache"/>: the backend, its position, and the breaker around it.</summary>
internal sealed class TierSlot
{
    public TierSlot(ICacheOps ops, int index, CircuitBreaker? breaker)
    {
        Ops = ops;
        Index = index;
        Breaker = breaker;
        Memory = ops as InMemoryTier;
        Name = string.IsNullOrWhiteSpace(ops.Name) ? $"L{index + 1}" : ops.Name;
    }

    public ICacheOps Ops { get; }

    public InMemoryTier? Memory { get; }

    public int Index { get; }

    public string Name { get; }

    public CircuitBreaker? Breaker { get; }

    /// <summary>Gets the tier's bit in a write-behind entry's set of tiers still to write.</summary>
    public int Bit => 1 << Index;
}
