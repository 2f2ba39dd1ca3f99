using BenchmarkDotNet.Attributes;
using TaiCache.Invalidation;

namespace TaiCache.Benchmarks.Invalidation;

/// <summary>
/// Cost of a cascade per dependency level: a chain k0 &lt;- k1 &lt;- ... &lt;- kN, invalidated from k0, over two
/// in-memory tiers. After the first invocation the deletes find nothing (a missing-key delete on InMemoryTier is the same
/// dictionary probe), so this measures the walk, the per-tier deletes, the receipt and the audit record.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class CascadeDepthBenchmarks
{
    private InMemoryTier _l1 = null!;
    private InMemoryTier _l2 = null!;
    private InvalidationManager _manager = null!;
    private DependencyGraph _graph = null!;

    [Params(1, 4, 16, 64)]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", MaximumSize = 1_000_000 });
        _l2 = new InMemoryTier(new InMemoryTierOptions { Name = "l2", MaximumSize = 1_000_000 });
        _manager = new InvalidationManager([_l1, _l2], new InvalidationManagerOptions { MaxCascadeDepth = 1_000 });
        _graph = new DependencyGraph(maxDepth: 1_000);
        for (var i = 0; i < Depth; i++)
        {
            _manager.AddDependencyAsync($"k{i + 1}", $"k{i}").AsTask().GetAwaiter().GetResult();
            _graph.AddDependency($"k{i + 1}", $"k{i}");
        }

        for (var i = 0; i <= Depth; i++)
        {
            _l1.Set($"k{i}", i);
            _l2.Set($"k{i}", i);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _manager.DisposeAsync();
        await _l1.DisposeAsync();
        await _l2.DisposeAsync();
    }

    /// <summary>The graph walk alone (paths and cycle check included).</summary>
    [Benchmark(Baseline = true)]
    public int WalkOnly() => _graph.GetTransitiveDependents("k0").Dependents.Count;

    /// <summary>The whole invalidation: walk, delete from both tiers, receipt, audit.</summary>
    [Benchmark]
    public async Task<int> InvalidateEager() => (await _manager.InvalidateAsync("k0")).Keys.Count;

    /// <summary>The whole invalidation with stale marks instead of deletes.</summary>
    [Benchmark]
    public async Task<int> InvalidateLazy() => (await _manager.InvalidateAsync("k0", InvalidationStrategy.Lazy)).Keys.Count;
}
