using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TaiCache.Metrics;

namespace TaiCache.Tests.Metrics;

[Collection(TaiCacheActivityCollection.Name)]
public sealed class TaiCacheTelemetryTests
{
    private sealed record Seen(string Instrument, string? Unit, long Value, Dictionary<string, object?> Tags);

    private static string NewCacheName(string test) => $"{nameof(TaiCacheTelemetryTests)}:{test}:{Guid.NewGuid():N}";

    private static List<Seen> CollectObservables(string cacheName)
    {
        var seen = new ConcurrentBag<Seen>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TaiCacheTelemetry.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var dict = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                dict[tag.Key] = tag.Value;
            }

            if (Equals(dict.GetValueOrDefault(TaiCacheTelemetry.CacheNameTag), cacheName))
            {
                seen.Add(new Seen(instrument.Name, instrument.Unit, value, dict));
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return [.. seen];
    }

    [Fact]
    public void Names_AreTheDocumentedConstants()
    {
        Assert.Equal("TaiCache", TaiCacheTelemetry.MeterName);
        Assert.Equal("TaiCache", TaiCacheTelemetry.ActivitySourceName);
        Assert.Equal("taicache.cache.hits", TaiCacheTelemetry.HitsInstrument);
        Assert.Equal("cache.name", TaiCacheTelemetry.CacheNameTag);
        Assert.Equal("cache.tier", TaiCacheTelemetry.CacheTierTag);
    }

    [Fact]
    public void TwoCollectorsOfOneCacheNameAndTier_AreOneSeries_Summed()
    {
        // Two hosts in one process (integration tests) build caches of the same name: an exporter keeps one value per
        // series of an observable counter, so two measurements with equal tags lost one cache's counts (3 of 13 seen).
        var name = NewCacheName(nameof(TwoCollectorsOfOneCacheNameAndTier_AreOneSeries_Summed));
        using var first = new MetricsCollector(name, "memory");
        using var second = new MetricsCollector(name, "memory");
        using var other = new MetricsCollector(name, "redis");
        for (var i = 0; i < 10; i++)
        {
            first.RecordHit();
        }

        for (var i = 0; i < 3; i++)
        {
            second.RecordHit();
            other.RecordHit();
        }

        first.RecordEviction(EvictionReason.Size);
        second.RecordEviction(EvictionReason.Size);
        first.UpdateSize(40, 4000);
        second.UpdateSize(5, 500);

        var seen = CollectObservables(name);

        var memoryHits = Assert.Single(seen, s => s.Instrument == TaiCacheTelemetry.HitsInstrument && Equals(s.Tags[TaiCacheTelemetry.CacheTierTag], "memory"));
        Assert.Equal(13, memoryHits.Value);
        Assert.Equal(3, Assert.Single(seen, s => s.Instrument == TaiCacheTelemetry.HitsInstrument && Equals(s.Tags[TaiCacheTelemetry.CacheTierTag], "redis")).Value);
        Assert.Equal(2, Assert.Single(seen, s => s.Instrument == TaiCacheTelemetry.EvictionsInstrument && Equals(s.Tags[TaiCacheTelemetry.CacheTierTag], "memory") && Equals(s.Tags[TaiCacheTelemetry.EvictionReasonTag], "size")).Value);
        Assert.Equal(45, Assert.Single(seen, s => s.Instrument == TaiCacheTelemetry.ItemsInstrument && Equals(s.Tags[TaiCacheTelemetry.CacheTierTag], "memory")).Value);
        Assert.Equal(40, Assert.Single(seen, s => s.Instrument == TaiCacheTelemetry.PeakItemsInstrument && Equals(s.Tags[TaiCacheTelemetry.CacheTierTag], "memory")).Value);
    }

    [Fact]
    public void ObservableInstruments_MeterListener_SeeNamesUnitsValuesAndTags()
    {
        var name = NewCacheName(nameof(ObservableInstruments_MeterListener_SeeNamesUnitsValuesAndTags));
        using var collector = new MetricsCollector(name, "L1");
        for (var i = 0; i < 7; i++)
        {
            collector.RecordHit();
        }

        collector.RecordMiss();
        collector.RecordMiss();
        collector.RecordSet();
        collector.RecordDelete();
        collector.RecordError();
        collector.RecordEviction(EvictionReason.Size);
        collector.RecordEviction(EvictionReason.Size);
        collector.RecordEviction(EvictionReason.Expired);
        collector.UpdateSize(42, 4096);
        collector.UpdateSize(40, 4000);

        var seen = CollectObservables(name);

        void Expect(string instrument, string unit, long value)
        {
            var m = Assert.Single(seen, s => s.Instrument == instrument);
            Assert.Equal(unit, m.Unit);
            Assert.Equal(value, m.Value);
            Assert.Equal("L1", m.Tags[TaiCacheTelemetry.CacheTierTag]);
            Assert.Equal(2, m.Tags.Count);
        }

        Expect(TaiCacheTelemetry.HitsInstrument, "{hit}", 7);
        Expect(TaiCacheTelemetry.MissesInstrument, "{miss}", 2);
        Expect(TaiCacheTelemetry.SetsInstrument, "{set}", 1);
        Expect(TaiCacheTelemetry.DeletesInstrument, "{delete}", 1);
        Expect(TaiCacheTelemetry.ErrorsInstrument, "{error}", 1);
        Expect(TaiCacheTelemetry.ItemsInstrument, "{item}", 40);
        Expect(TaiCacheTelemetry.PeakItemsInstrument, "{item}", 42);
        Expect(TaiCacheTelemetry.SizeInstrument, "By", 4000);
        Expect(TaiCacheTelemetry.PeakSizeInstrument, "By", 4096);

        var evictions = seen.Where(s => s.Instrument == TaiCacheTelemetry.EvictionsInstrument)
            .ToDictionary(s => (string)s.Tags[TaiCacheTelemetry.EvictionReasonTag]!, s => s.Value);
        Assert.Equal(new Dictionary<string, long> { ["size"] = 2, ["expired"] = 1, ["removed"] = 0, ["replaced"] = 0 }, evictions);
        Assert.All(seen, s => Assert.DoesNotContain(s.Tags.Keys, k => k.Contains("key", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task SizeGauges_CountBoundedMemoryTier_ReportsItemsButNoBytes_WeightedTierReportsBoth()
    {
        var counted = NewCacheName("counted");
        var weighted = NewCacheName("weighted");
        using var countedMetrics = new MetricsCollector(counted, "L1");
        using var weightedMetrics = new MetricsCollector(weighted, "L1");
        await using var byCount = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, Metrics = countedMetrics });
        await using var byWeight = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000, Weigher = static (_, _) => 10, Metrics = weightedMetrics });
        for (var i = 0; i < 3; i++)
        {
            await byCount.SetAsync($"k{i}", i);
            await byWeight.SetAsync($"k{i}", i);
        }

        var seenCounted = CollectObservables(counted);
        Assert.Equal(3, Assert.Single(seenCounted, s => s.Instrument == TaiCacheTelemetry.ItemsInstrument).Value);
        Assert.DoesNotContain(seenCounted, s => s.Instrument is TaiCacheTelemetry.SizeInstrument or TaiCacheTelemetry.PeakSizeInstrument);
        Assert.False(countedMetrics.GetSnapshot().BytesReported);
        Assert.Contains("bytes=-", MetricsReportFormatter.FormatLine(countedMetrics.GetSnapshot()), StringComparison.Ordinal);

        var seenWeighted = CollectObservables(weighted);
        Assert.Equal(3, Assert.Single(seenWeighted, s => s.Instrument == TaiCacheTelemetry.ItemsInstrument).Value);
        Assert.Equal(30, Assert.Single(seenWeighted, s => s.Instrument == TaiCacheTelemetry.SizeInstrument).Value);
        Assert.True(weightedMetrics.GetSnapshot().BytesReported);
    }

    [Fact]
    public void ObservableInstruments_DisposedOrUnpublishedCollector_NotReported()
    {
        var disposedName = NewCacheName("disposed");
        var privateName = NewCacheName("private");
        var disposed = new MetricsCollector(disposedName, "L1");
        disposed.RecordHit();
        disposed.Dispose();
        var unpublished = new MetricsCollector(privateName, "L1", null, new MetricsCollectorOptions { PublishToMeter = false });
        unpublished.RecordHit();

        Assert.Empty(CollectObservables(disposedName));
        Assert.Empty(CollectObservables(privateName));
        Assert.Equal(1, disposed.Hits); // recording still works
    }

    [Fact]
    public void ObservableInstruments_ManyCollectorsCreatedAndDropped_LiveOnesStillReported()
    {
        var name = NewCacheName(nameof(ObservableInstruments_ManyCollectorsCreatedAndDropped_LiveOnesStillReported));
        using var live = new MetricsCollector(name, "L1");
        live.RecordHit();
        for (var i = 0; i < 1_000; i++)
        {
            _ = new MetricsCollector(NewCacheName("dropped"), "L1");
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        _ = new MetricsCollector(NewCacheName("after-gc"), "L1"); // triggers a prune of the dead references

        var hits = Assert.Single(CollectObservables(name), s => s.Instrument == TaiCacheTelemetry.HitsInstrument);
        Assert.Equal(1, hits.Value);
    }

    [Fact]
    public void DurationHistogram_MetricCollector_SeesSecondsTaggedByResult()
    {
        var name = NewCacheName(nameof(DurationHistogram_MetricCollector_SeesSecondsTaggedByResult));
        using var duration = new MetricCollector<double>(null, TaiCacheTelemetry.MeterName, TaiCacheTelemetry.DurationInstrument);
        using var collector = new MetricsCollector(name, "redis");

        collector.RecordHit(TimeSpan.FromMicroseconds(250));
        collector.RecordMiss(TimeSpan.FromMilliseconds(3));

        var mine = duration.GetMeasurementSnapshot().Where(m => Equals(m.Tags[TaiCacheTelemetry.CacheNameTag], name)).ToList();
        Assert.Equal(2, mine.Count);
        var hit = Assert.Single(mine, m => Equals(m.Tags[TaiCacheTelemetry.ResultTag], "hit"));
        var miss = Assert.Single(mine, m => Equals(m.Tags[TaiCacheTelemetry.ResultTag], "miss"));
        Assert.Equal(250e-6, hit.Value, 12);
        Assert.Equal(3e-3, miss.Value, 12);
        Assert.Equal("redis", hit.Tags[TaiCacheTelemetry.CacheTierTag]);
        Assert.Equal(3, hit.Tags.Count);
        Assert.Equal(TaiCacheTelemetry.DurationUnit, duration.Instrument!.Unit);
    }

    [Fact]
    public void StartTierActivity_NoListener_ReturnsNull()
    {
        // Other tests may listen at the same time; only a source nobody listens to can be asserted on, so check the
        // fast path through a listener that samples nothing.
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == TaiCacheTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.None,
        };
        ActivitySource.AddActivityListener(listener);

        Assert.Null(TaiCacheTelemetry.StartTierActivity(TaiCacheTelemetry.GetActivity, "c", "t"));
    }

    [Fact]
    public void StartTierActivity_Listener_CarriesCacheTierOperationAndResult()
    {
        var name = NewCacheName(nameof(StartTierActivity_Listener_CarriesCacheTierOperationAndResult));
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == TaiCacheTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => stopped.Add(a),
        };
        ActivitySource.AddActivityListener(listener);

        using (var activity = TaiCacheTelemetry.StartTierActivity(TaiCacheTelemetry.GetActivity, name, "redis", ActivityKind.Client))
        {
            Assert.NotNull(activity);
            TaiCacheTelemetry.SetReadResult(activity, hit: false);
        }

        using (var activity = TaiCacheTelemetry.StartTierActivity(TaiCacheTelemetry.SetActivity, name, "redis"))
        {
            TaiCacheTelemetry.SetError(activity, new TimeoutException("secret-key-name"));
        }

        var mine = stopped.Where(a => Equals(a.GetTagItem(TaiCacheTelemetry.CacheNameTag), name)).ToList();
        var get = Assert.Single(mine, a => a.OperationName == TaiCacheTelemetry.GetActivity);
        Assert.Equal("redis", get.GetTagItem(TaiCacheTelemetry.CacheTierTag));
        Assert.Equal("get", get.GetTagItem(TaiCacheTelemetry.OperationTag));
        Assert.Equal("miss", get.GetTagItem(TaiCacheTelemetry.ResultTag));
        Assert.Equal(ActivityKind.Client, get.Kind);
        var set = Assert.Single(mine, a => a.OperationName == TaiCacheTelemetry.SetActivity);
        Assert.Equal(ActivityStatusCode.Error, set.Status);
        Assert.DoesNotContain("secret", set.StatusDescription ?? string.Empty);
    }
}
