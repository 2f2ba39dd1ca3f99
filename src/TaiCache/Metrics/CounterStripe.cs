using System.Runtime.InteropServices;

namespace TaiCache.Metrics;

/// <summary>
/// One thread's share of a collector's counters (inside a <see cref="CounterCell"/>). 256 bytes with the live fields in
/// the middle, so two threads' counters never share a 64-byte cache line (nor an adjacent-line prefetch pair).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct CounterStripe
{
    [FieldOffset(64)]
    public long Hits;

    [FieldOffset(72)]
    public long Misses;

    [FieldOffset(80)]
    public long Sets;

    [FieldOffset(88)]
    public long Deletes;

    [FieldOffset(96)]
    public long Errors;

    [FieldOffset(104)]
    public long EvictedSize;

    [FieldOffset(112)]
    public long EvictedExpired;

    [FieldOffset(120)]
    public long EvictedRemoved;

    [FieldOffset(128)]
    public long EvictedReplaced;

    /// <summary>
    /// Reads counted up front by a hot tier (<c>MetricsCollector.CountRead</c>), before it knows hit from miss; those that
    /// miss are counted in <see cref="ReadMisses"/>, so the hits among them are <c>Reads - ReadMisses</c>.
    /// </summary>
    [FieldOffset(136)]
    public long Reads;

    /// <summary>The misses among <see cref="Reads"/> (counted as misses, not as plain <see cref="Misses"/>).</summary>
    [FieldOffset(144)]
    public long ReadMisses;

    /// <summary>Calls left before the next latency sample on this thread.</summary>
    [FieldOffset(152)]
    public int SampleCountdown;
}
