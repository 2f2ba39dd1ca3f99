using System.Collections.Concurrent;
using System.Diagnostics;
using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

/// <summary>
/// The tests that attach an <see cref="ActivityListener"/> to the TaiCache source run one class at a time: listeners are
/// process-wide, and a sampling listener would defeat a test asserting that nobody samples.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TaiCacheActivityCollection
{
    public const string Name = "TaiCache activity listeners";
}

/// <summary>
/// Records every TaiCache activity that stops while it lives, keeping only those tagged with one cache name (other
/// tests running in parallel produce activities of their own).
/// </summary>
public sealed class ActivityCapture : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public ActivityCapture(string cacheName, string? extraSource = null)
    {
        CacheName = cacheName;
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == TaiCacheTelemetry.ActivitySourceName || s.Name == extraSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (Equals(a.GetTagItem(TaiCacheTelemetry.CacheNameTag), cacheName))
                {
                    _stopped.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public string CacheName { get; }

    /// <summary>Gets the activities of this cache stopped so far, in the order they stopped.</summary>
    public IReadOnlyList<Activity> Stopped => [.. _stopped];

    public IReadOnlyList<Activity> Named(string operationName) => [.. _stopped.Where(a => a.OperationName == operationName)];

    public void Clear() => _stopped.Clear();

    public void Dispose() => _listener.Dispose();
}
