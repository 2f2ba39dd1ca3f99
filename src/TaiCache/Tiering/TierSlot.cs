using System.Diagnostics;
using TaiCache.Memcached;
using TaiCache.Redis;

namespace TaiCache.Tiering;

/// <summary>One tier of a <see cref="MultiTierCache"/>: the backend, its position, and the breaker around it.</summary>
internal sealed class TierSlot
{
    public TierSlot(ICacheOps ops, int index, CircuitBreaker? breaker, TimeProvider time)
    {
        ReadFailureLog = new LogThrottle(time, TimeSpan.FromSeconds(1));
        WriteFailureLog = new LogThrottle(time, TimeSpan.FromSeconds(1));
        Ops = ops;
        Index = index;
        Breaker = breaker;
        Memory = ops as InMemoryTier;
        IsShared = ops is not (InMemoryTier or Sqlite.SqliteTier);
        Name = string.IsNullOrWhiteSpace(ops.Name) ? $"L{index + 1}" : ops.Name;
        Traced = index > 0 || Memory is null;
        ActivityKind = ops is RedisCache or MemcachedCache ? ActivityKind.Client : ActivityKind.Internal;
    }

    public ICacheOps Ops { get; }

    public InMemoryTier? Memory { get; }

    /// <summary>Gets a value indicating whether other instances may write this tier (every tier but memory and SQLite, a
    /// tier of one's own included): a copy of its value can be overtaken by a peer's write.</summary>
    public bool IsShared { get; }

    public int Index { get; }

    public string Name { get; }

    public CircuitBreaker? Breaker { get; }

    /// <summary>Gets the throttle of this tier's read-failure warnings.</summary>
    public LogThrottle ReadFailureLog { get; }

    /// <summary>Gets the throttle of this tier's write-failure warnings.</summary>
    public LogThrottle WriteFailureLog { get; }

    /// <summary>Gets a value indicating whether calls to this tier are traced: every tier but an in-memory L1 (whose hits must stay free).</summary>
    public bool Traced { get; }

    /// <summary>Gets the kind of this tier's activities: <see cref="ActivityKind.Client"/> for a tier that calls a server.</summary>
    public ActivityKind ActivityKind { get; }

    /// <summary>Gets the tier's bit in a write-behind entry's set of tiers still to write.</summary>
    public int Bit => 1 << Index;
}
