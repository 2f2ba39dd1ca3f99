using System.Diagnostics;
using System.Runtime.CompilerServices;
using TaiCache.Metrics;

namespace TaiCache.Tiering;

/// <summary>
/// Tracing: one activity per call to a tier other than an in-memory L1 (see <c>docs/metrics.md</c>, "Tracing"). The L1
/// fast paths never get here; elsewhere, with nobody listening, the cost is one branch.
/// </summary>
public sealed partial class MultiTierCache
{
    /// <summary>Starts an activity for one call to a tier, or returns <see langword="null"/> for an in-memory L1 or when nobody listens.</summary>
    /// <param name="slot">The tier.</param>
    /// <param name="activityName">One of <see cref="TaiCacheTelemetry.GetActivity"/>, <see cref="TaiCacheTelemetry.SetActivity"/>, <see cref="TaiCacheTelemetry.InvalidateActivity"/>.</param>
    /// <param name="operation">The <see cref="TaiCacheTelemetry.OperationTag"/> value; <see langword="null"/> for the one the name implies.</param>
    /// <param name="keyCount">How many keys a batch call carries; negative for a single-key call.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Activity? StartTierActivity(TierSlot slot, string activityName, string? operation = null, int keyCount = -1) =>
        slot.Traced && TaiCacheInstruments.ActivitySource.HasListeners()
            ? TaiCacheTelemetry.StartTierActivity(activityName, Name, slot.Name, slot.ActivityKind, operation, keyCount)
            : null;
}
