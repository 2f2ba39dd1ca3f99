using System.Diagnostics;

namespace TaiCache.Metrics;

/// <summary>
/// The names TaiCache publishes under: one <see cref="System.Diagnostics.Metrics.Meter"/> and one
/// <see cref="ActivitySource"/>, both named <see cref="MeterName"/>, the instrument names with their units, and the tag
/// names. Subscribe with OpenTelemetry's <c>AddMeter(TaiCacheTelemetry.MeterName)</c> and
/// <c>AddSource(TaiCacheTelemetry.ActivitySourceName)</c>, or <c>dotnet-counters monitor --counters TaiCache</c>.
/// </summary>
/// <remarks>Tags carry the cache's and tier's names, never a key: keys are unbounded and may be sensitive.</remarks>
public static class TaiCacheTelemetry
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "TaiCache";

    /// <summary>The activity source's name.</summary>
    public const string ActivitySourceName = "TaiCache";

    /// <summary>Reads that found a value (observable counter, unit <see cref="HitsUnit"/>).</summary>
    public const string HitsInstrument = "taicache.cache.hits";

    /// <summary>The unit of <see cref="HitsInstrument"/>.</summary>
    public const string HitsUnit = "{hit}";

    /// <summary>Reads that found nothing (observable counter, unit <see cref="MissesUnit"/>).</summary>
    public const string MissesInstrument = "taicache.cache.misses";

    /// <summary>The unit of <see cref="MissesInstrument"/>.</summary>
    public const string MissesUnit = "{miss}";

    /// <summary>Writes (observable counter, unit <see cref="SetsUnit"/>).</summary>
    public const string SetsInstrument = "taicache.cache.sets";

    /// <summary>The unit of <see cref="SetsInstrument"/>.</summary>
    public const string SetsUnit = "{set}";

    /// <summary>Explicit removals (observable counter, unit <see cref="DeletesUnit"/>).</summary>
    public const string DeletesInstrument = "taicache.cache.deletes";

    /// <summary>The unit of <see cref="DeletesInstrument"/>.</summary>
    public const string DeletesUnit = "{delete}";

    /// <summary>Entries that left the cache, tagged with <see cref="EvictionReasonTag"/> (observable counter, unit <see cref="EvictionsUnit"/>).</summary>
    public const string EvictionsInstrument = "taicache.cache.evictions";

    /// <summary>The unit of <see cref="EvictionsInstrument"/>.</summary>
    public const string EvictionsUnit = "{eviction}";

    /// <summary>Failed operations (observable counter, unit <see cref="ErrorsUnit"/>).</summary>
    public const string ErrorsInstrument = "taicache.cache.errors";

    /// <summary>The unit of <see cref="ErrorsInstrument"/>.</summary>
    public const string ErrorsUnit = "{error}";

    /// <summary>Entries held now (observable gauge, unit <see cref="ItemsUnit"/>).</summary>
    public const string ItemsInstrument = "taicache.cache.items";

    /// <summary>The unit of <see cref="ItemsInstrument"/> and <see cref="PeakItemsInstrument"/>.</summary>
    public const string ItemsUnit = "{item}";

    /// <summary>The most entries held since the collector started (observable gauge, unit <see cref="ItemsUnit"/>).</summary>
    public const string PeakItemsInstrument = "taicache.cache.items.peak";

    /// <summary>Bytes (or weight units) held now (observable gauge, unit <see cref="SizeUnit"/>).</summary>
    public const string SizeInstrument = "taicache.cache.size";

    /// <summary>The unit of <see cref="SizeInstrument"/> and <see cref="PeakSizeInstrument"/>.</summary>
    public const string SizeUnit = "By";

    /// <summary>The most bytes held since the collector started (observable gauge, unit <see cref="SizeUnit"/>).</summary>
    public const string PeakSizeInstrument = "taicache.cache.size.peak";

    /// <summary>Timed reads, tagged with <see cref="ResultTag"/> <c>hit</c> or <c>miss</c> (histogram, unit <see cref="DurationUnit"/>).</summary>
    public const string DurationInstrument = "taicache.cache.operation.duration";

    /// <summary>The unit of <see cref="DurationInstrument"/>: seconds, as OpenTelemetry's conventions ask.</summary>
    public const string DurationUnit = "s";

    /// <summary>Writes queued by a write-behind <c>MultiTierCache</c> and not yet written to every lower tier (observable gauge, unit <c>{write}</c>).</summary>
    public const string WriteBehindQueueDepthInstrument = "taicache.write_behind.queue.depth";

    /// <summary>Age, in seconds, of the oldest write a write-behind <c>MultiTierCache</c> has not yet written everywhere (observable gauge, unit <c>s</c>).</summary>
    public const string WriteBehindQueueAgeInstrument = "taicache.write_behind.queue.age";

    /// <summary>The tag holding the cache's name.</summary>
    public const string CacheNameTag = "cache.name";

    /// <summary>The tag holding the tier's name.</summary>
    public const string CacheTierTag = "cache.tier";

    /// <summary>The tag holding why an entry left (<c>size</c>, <c>expired</c>, <c>removed</c>, <c>replaced</c>).</summary>
    public const string EvictionReasonTag = "cache.eviction.reason";

    /// <summary>The tag holding a read's result (<c>hit</c> or <c>miss</c>).</summary>
    public const string ResultTag = "cache.result";

    /// <summary>
    /// The tag holding a traced operation's name: <c>get</c>, <c>get_many</c>, <c>exists</c> (on <see cref="GetActivity"/>);
    /// <c>set</c>, <c>set_many</c>, <c>expire</c>, <c>write_behind_set</c> (on <see cref="SetActivity"/>); <c>delete</c>,
    /// <c>delete_many</c>, <c>write_behind_delete</c> (a tier removal) or <c>invalidate</c> (an invalidation manager's
    /// call) on <see cref="InvalidateActivity"/>.
    /// </summary>
    public const string OperationTag = "cache.operation";

    /// <summary>The tag holding a failed traced operation's error: the exception's full type name, or a short reason such as <c>circuit_open</c>.</summary>
    public const string ErrorTypeTag = "error.type";

    /// <summary>The tag holding how many keys a traced batch call carried, or how many keys an invalidation reached.</summary>
    public const string KeyCountTag = "cache.key_count";

    /// <summary>The tag holding how many keys a traced batch read found.</summary>
    public const string HitCountTag = "cache.hit_count";

    /// <summary>The tag holding what started a traced invalidation (<c>key</c>, <c>tag</c>, <c>pattern</c>, <c>event</c>, <c>ttl</c>, <c>namespace</c>).</summary>
    public const string InvalidationTriggerTag = "cache.invalidation.trigger";

    /// <summary>The tag holding a traced invalidation's strategy (<c>eager</c>, <c>lazy</c>, <c>ttl</c>).</summary>
    public const string InvalidationStrategyTag = "cache.invalidation.strategy";

    /// <summary>The tag holding a traced invalidation's receipt id, to find it in the audit log.</summary>
    public const string InvalidationIdTag = "cache.invalidation.id";

    /// <summary>The name of the activity traced for a tier read.</summary>
    public const string GetActivity = "taicache.get";

    /// <summary>The name of the activity traced for a tier write.</summary>
    public const string SetActivity = "taicache.set";

    /// <summary>The name of the activity traced for an invalidation.</summary>
    public const string InvalidateActivity = "taicache.invalidate";

    /// <summary>
    /// Starts an activity for one tier operation, or returns <see langword="null"/> (at no cost) when nobody listens.
    /// </summary>
    /// <param name="activityName">One of <see cref="GetActivity"/>, <see cref="SetActivity"/>, <see cref="InvalidateActivity"/>.</param>
    /// <param name="cacheName">The cache's name.</param>
    /// <param name="tierName">The tier's name.</param>
    /// <param name="kind">The activity's kind: <see cref="ActivityKind.Client"/> for a tier that calls a server.</param>
    /// <param name="operation">The <see cref="OperationTag"/> value; <see langword="null"/> for the one the activity's name implies.</param>
    /// <param name="keyCount">The <see cref="KeyCountTag"/> value for a batch call; negative for none.</param>
    /// <returns>The started activity (dispose it to end it), or <see langword="null"/>.</returns>
    internal static Activity? StartTierActivity(string activityName, string cacheName, string tierName, ActivityKind kind = ActivityKind.Internal, string? operation = null, int keyCount = -1)
    {
        var source = TaiCacheInstruments.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        var activity = source.StartActivity(activityName, kind);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(CacheNameTag, cacheName);
            activity.SetTag(CacheTierTag, tierName);
            activity.SetTag(OperationTag, operation ?? OperationOf(activityName));
            if (keyCount >= 0)
            {
                activity.SetTag(KeyCountTag, keyCount);
            }
        }

        return activity;
    }

    /// <summary>Marks a traced batch read: <c>hit</c> when every key was found, <c>miss</c> when none, else <c>partial</c>.</summary>
    /// <param name="activity">The activity from <see cref="StartTierActivity"/>, possibly <see langword="null"/>.</param>
    /// <param name="requested">How many keys were asked for.</param>
    /// <param name="found">How many were found.</param>
    internal static void SetBatchReadResult(Activity? activity, int requested, int found)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(HitCountTag, found);
            activity.SetTag(ResultTag, found == 0 ? "miss" : found >= requested ? "hit" : "partial");
        }
    }

    /// <summary>Marks a traced read as a hit or a miss.</summary>
    /// <param name="activity">The activity from <see cref="StartTierActivity"/>, possibly <see langword="null"/>.</param>
    /// <param name="hit">Whether the read found a value.</param>
    internal static void SetReadResult(Activity? activity, bool hit)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(ResultTag, hit ? "hit" : "miss");
        }
    }

    /// <summary>Marks a traced operation as failed, naming the exception's type only (messages may name keys).</summary>
    /// <param name="activity">The activity from <see cref="StartTierActivity"/>, possibly <see langword="null"/>.</param>
    /// <param name="exception">What failed.</param>
    internal static void SetError(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            if (activity.IsAllDataRequested)
            {
                activity.SetTag(ErrorTypeTag, exception.GetType().FullName);
            }
        }
    }

    /// <summary>Marks a traced operation as failed without an exception (for example, a tier skipped because its circuit is open).</summary>
    /// <param name="activity">The activity, possibly <see langword="null"/>.</param>
    /// <param name="errorType">A short, low-cardinality reason such as <c>circuit_open</c>.</param>
    internal static void SetError(Activity? activity, string errorType)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, errorType);
            if (activity.IsAllDataRequested)
            {
                activity.SetTag(ErrorTypeTag, errorType);
            }
        }
    }

    private static string OperationOf(string activityName) => activityName switch
    {
        GetActivity => "get",
        SetActivity => "set",
        InvalidateActivity => "invalidate",
        _ => activityName,
    };
}
