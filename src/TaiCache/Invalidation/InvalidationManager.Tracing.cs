using System.Diagnostics;
using TaiCache.Metrics;

namespace TaiCache.Invalidation;

/// <summary>Tracing: one <c>taicache.invalidate</c> activity per invalidation call, tagged with what started it and how many keys it reached.</summary>
public sealed partial class InvalidationManager
{
    private string? _traceName;

    /// <summary>Gets the <c>cache.name</c> of this manager's activities: its tiers' names, nearest first, joined by commas.</summary>
    private string TraceName => _traceName ??= string.Join(',', _tiers.Select(static t => t.Name));

    /// <summary>Runs a cascade inside an activity when someone listens (else directly, with no extra frame).</summary>
    private ValueTask<InvalidationReceipt> RunTracedAsync(
        InvalidationTrigger trigger,
        string triggerValue,
        IReadOnlyCollection<string> roots,
        InvalidationStrategy strategy,
        bool clearInMemoryTiers,
        CancellationToken cancellationToken)
    {
        if (!TaiCacheInstruments.ActivitySource.HasListeners())
        {
            return RunAsync(trigger, triggerValue, roots, strategy, clearInMemoryTiers, cancellationToken);
        }

        return RunWithActivityAsync(trigger, triggerValue, roots, strategy, clearInMemoryTiers, cancellationToken);
    }

    private async ValueTask<InvalidationReceipt> RunWithActivityAsync(
        InvalidationTrigger trigger,
        string triggerValue,
        IReadOnlyCollection<string> roots,
        InvalidationStrategy strategy,
        bool clearInMemoryTiers,
        CancellationToken cancellationToken)
    {
        using var activity = StartInvalidateActivity(trigger, strategy);
        try
        {
            var receipt = await RunAsync(trigger, triggerValue, roots, strategy, clearInMemoryTiers, cancellationToken).ConfigureAwait(false);
            TraceReceipt(activity, receipt);
            return receipt;
        }
        catch (Exception e)
        {
            TaiCacheTelemetry.SetError(activity, e);
            throw;
        }
    }

    /// <summary>Starts the activity of one invalidation call, or returns <see langword="null"/> when nobody listens.</summary>
    private Activity? StartInvalidateActivity(InvalidationTrigger trigger, InvalidationStrategy strategy)
    {
        var source = TaiCacheInstruments.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        var activity = source.StartActivity(TaiCacheTelemetry.InvalidateActivity, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(TaiCacheTelemetry.CacheNameTag, TraceName);
            activity.SetTag(TaiCacheTelemetry.OperationTag, "invalidate");
            activity.SetTag(TaiCacheTelemetry.InvalidationTriggerTag, TriggerName(trigger));
            activity.SetTag(TaiCacheTelemetry.InvalidationStrategyTag, StrategyName(strategy));
        }

        return activity;
    }

    /// <summary>Adds what an invalidation did to its activity: keys reached, receipt id, and an error status when a tier (or the broadcast) failed.</summary>
    private static void TraceReceipt(Activity? activity, InvalidationReceipt receipt)
    {
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(TaiCacheTelemetry.KeyCountTag, receipt.Keys.Count);
            activity.SetTag(TaiCacheTelemetry.InvalidationIdTag, receipt.Id.ToString());
        }

        if (receipt.FailedTiers.Count > 0)
        {
            TaiCacheTelemetry.SetError(activity, "tier_failed");
        }
    }

    private static string TriggerName(InvalidationTrigger trigger) => trigger switch
    {
        InvalidationTrigger.Key => "key",
        InvalidationTrigger.Tag => "tag",
        InvalidationTrigger.Pattern => "pattern",
        InvalidationTrigger.Event => "event",
        InvalidationTrigger.Ttl => "ttl",
        InvalidationTrigger.Namespace => "namespace",
        _ => "other",
    };

    private static string StrategyName(InvalidationStrategy strategy) => strategy switch
    {
        InvalidationStrategy.Eager => "eager",
        InvalidationStrategy.Lazy => "lazy",
        InvalidationStrategy.Ttl => "ttl",
        _ => "other",
    };
}
