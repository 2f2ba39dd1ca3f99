using BenchmarkDotNet.Attributes;
using TaiCache.Metrics;
using TaiCache.Sqlite;
using TaiCache.Tiering;

namespace TaiCache.Benchmarks.Metrics;

/// <summary>
/// The L1 hit as users meet it: <see cref="MultiTierCache"/> over the embedded default (memory L1, SQLite L3), a key
/// held by L1, read with <c>GetOrSetAsync</c> and <c>GetAsync</c>, once with no collectors and once with a
/// <see cref="MetricsCollector"/> on every tier, published to the <c>TaiCache</c> meter.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MetricsBenchmarkConfig))]
[MinColumn]
[MedianColumn]
public class MultiTierL1HitMetricsBenchmarks
{
    private const string Key = "bench:user:42";

    private static readonly Func<CancellationToken, ValueTask<string>> Factory = _ => ValueTask.FromResult("value");

    private readonly List<MetricsCollector> _collectors = [];
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"taicache-bench-{Guid.NewGuid():N}.db");
    private MultiTierCache _cache = null!;

    [Params(false, true)]
    public bool Metrics { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        var options = new MultiTierCacheOptions { DefaultEntryOptions = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(5) } };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 10_000, Metrics = Collector("L1") }));
        options.Tiers.Add(new SqliteTier(new SqliteTierOptions { Name = "L3", FilePath = _file, Metrics = Collector("L3") }));
        _cache = new MultiTierCache(options);
        await _cache.SetAsync(Key, "value");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _cache.DisposeAsync();
        _collectors.ForEach(c => c.Dispose());
        File.Delete(_file);
    }

    [Benchmark(Description = "GetOrSetAsync, L1 hit")]
    public ValueTask<string> GetOrSet() => _cache.GetOrSetAsync(Key, Factory);

    [Benchmark(Description = "GetAsync, L1 hit")]
    public ValueTask<CacheResult<string>> Get() => _cache.GetAsync<string>(Key);

    /// <summary>The same L1 hit read the way an <c>await</c> of a completed task reads it, without BenchmarkDotNet's per-call await of a returned task.</summary>
    [Benchmark(Description = "GetOrSetAsync, L1 hit, completed result read inline")]
    public string GetOrSetInline()
    {
        var pending = _cache.GetOrSetAsync(Key, Factory);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    private MetricsCollector? Collector(string tier)
    {
        if (!Metrics)
        {
            return null;
        }

        var collector = new MetricsCollector("bench", tier);
        _collectors.Add(collector);
        return collector;
    }
}
