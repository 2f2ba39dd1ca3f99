namespace TaiCache.Invalidation;

/// <summary>What started an invalidation, as recorded in its <see cref="InvalidationReceipt"/>.</summary>
public enum InvalidationTrigger
{
    /// <summary>A key was invalidated (<see cref="InvalidationManager.InvalidateAsync(string, CancellationToken)"/>).</summary>
    Key = 0,

    /// <summary>A tag was invalidated (<see cref="InvalidationManager.InvalidateTagAsync(string, CancellationToken)"/>).</summary>
    Tag = 1,

    /// <summary>A glob or regular-expression pattern was invalidated.</summary>
    Pattern = 2,

    /// <summary>A named event was raised (<see cref="InvalidationManager.RaiseEventAsync(string, CancellationToken)"/>).</summary>
    Event = 3,

    /// <summary>A scheduled invalidation came due (<see cref="InvalidationManager.ScheduleInvalidation(string, TimeSpan)"/>).</summary>
    Ttl = 4,

    /// <summary>A namespace's version was bumped (<see cref="InvalidationManager.InvalidateNamespaceAsync(CacheNamespace, CancellationToken)"/>).</summary>
    Namespace = 5,
}
