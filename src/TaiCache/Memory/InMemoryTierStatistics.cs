namespace TaiCache;

/// <summary>A snapshot of an <see cref="InMemoryTier"/>'s counters (approximate under concurrency).</summary>
/// <param name="Count">Entries held.</param>
/// <param name="Weight">Total weight held (the entry count without a weigher).</param>
/// <param name="SizeEvictions">Entries the policy evicted to stay within capacity.</param>
/// <param name="ExpiredEvictions">Entries reclaimed because they expired.</param>
/// <param name="WindowMaximum">The admission window's current size, as adapted to the workload.</param>
public readonly record struct InMemoryTierStatistics(long Count, long Weight, long SizeEvictions, long ExpiredEvictions, long WindowMaximum);
