using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using TaiCache.Invalidation;

namespace TaiCache.Benchmarks.Invalidation;

/// <summary>
/// One invalidation that fans out to 10,000 keys (one root with 10,000 direct dependents, or a tag on 10,000 keys),
/// over two in-memory tiers refilled before every invocation, so every delete removes a live entry. The baseline
/// removes the same keys from the same tiers by hand, with no graph, receipt or audit: the floor.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 15, invocationCount: 1)]
public class FanOutBenchmarks
{
    private InMemoryTier _l1 = null!;
    private InMemoryTier _l2 = null!;
    private InvalidationManager _manager = null!;
    private string[] _keys = null!;

    [Params(10_000)]
    public int FanOut { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", MaximumSize = 1_000_000 });
        _l2 = new InMemoryTier(new InMemoryTierOptions { Name = "l2", MaximumSize = 1_000_000 });
        _manager = new InvalidationManager([_l1, _l2]);
        _keys = Enumerable.Range(0, FanOut).Select(i => $"fan:{i}").ToArray();
        foreach (var key in _keys)
        {
            _manager.AddDependencyAsync(key, "fan:root").AsTask().GetAwaiter().GetResult();
        }
    }

    [IterationSetup]
    public void Refill()
    {
        foreach (var key in _keys)
        {
            _l1.Set(key, 1);
            _l2.Set(key, 1);
        }

        _l1.Set("fan:root", 1);
        _l2.Set("fan:root", 1);
    }

    [IterationSetup(Target = nameof(InvalidateTag))]
    public void RefillTagged()
    {
        Refill();
        foreach (var key in _keys)
        {
            _manager.TagAsync(key, ["fan-tag"]).AsTask().GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _manager.DisposeAsync();
        await _l1.DisposeAsync();
        await _l2.DisposeAsync();
    }

    /// <summary>The floor: remove the same keys from both tiers directly.</summary>
    [Benchmark(Baseline = true)]
    public int RemoveByHand()
    {
        var removed = 0;
        foreach (var key in _keys)
        {
            removed += _l2.Remove(key) ? 1 : 0;
            removed += _l1.Remove(key) ? 1 : 0;
        }

        return removed;
    }

    [Benchmark]
    public async Task<int> InvalidateDependencyFanOut() => (await _manager.InvalidateAsync("fan:root")).Keys.Count;

    [Benchmark]
    public async Task<int> InvalidateDependencyFanOutLazy() => (await _manager.InvalidateAsync("fan:root", InvalidationStrategy.Lazy)).Keys.Count;

    [Benchmark]
    public async Task<int> InvalidateTag() => (await _manager.InvalidateTagAsync("fan-tag")).Keys.Count;
}
