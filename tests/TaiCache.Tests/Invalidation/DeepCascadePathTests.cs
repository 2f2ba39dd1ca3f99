using TaiCache.Invalidation;

namespace TaiCache.Tests.Invalidation;

/// <summary>
/// Paths of a deep chain share their links: every path of an n-deep walk costs O(n) together, not O(n²). The bounds
/// are on bytes allocated, not on time; laying every path out (what the walk used to do) costs 8·n²/2 bytes, 64 MB
/// here, against a bound of 1 MB.
/// </summary>
public sealed class DeepCascadePathTests
{
    private const int Levels = 4_000;
    private const long Bound = 256L * Levels;

    [Fact]
    public void Paths_DeepChain_AllocatesLinearlyAndReadsCorrectly()
    {
        var prefix = nameof(Paths_DeepChain_AllocatesLinearlyAndReadsCorrectly) + ":";
        var graph = new DependencyGraph();
        for (var i = 1; i < Levels; i++)
        {
            graph.AddDependency(prefix + i, prefix + (i - 1));
        }

        var walk = graph.GetTransitiveDependents(prefix + 0, int.MaxValue);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var paths = walk.Paths;
        long total = 0;
        foreach (var (key, path) in paths)
        {
            total += path.Count;
            Assert.Same(key, path[^1]);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Levels, paths.Count);
        Assert.Equal((long)Levels * (Levels + 1) / 2, total);
        Assert.True(allocated < Bound, $"reading {Levels} paths allocated {allocated:N0} bytes (bound {Bound:N0})");
        Assert.Equal([prefix + 0, prefix + 1, prefix + 2], paths[prefix + 2]);
        Assert.Equal(Enumerable.Range(0, Levels).Select(i => prefix + i), walk.GetPath(prefix + (Levels - 1)));
        var deepest = walk.GetPath(prefix + (Levels - 1));
        for (var i = 0; i < deepest.Count; i++)
        {
            Assert.Equal(prefix + i, deepest[i]);
        }

        Assert.Equal(Levels - 1, walk.GetDepth(prefix + (Levels - 1)));
    }

    [Fact]
    public async Task InvalidatedKeyPath_EveryKeyOfDeepReceipt_AllocatesLinearly()
    {
        var prefix = nameof(InvalidatedKeyPath_EveryKeyOfDeepReceipt_AllocatesLinearly) + ":";
        await using var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 10_000 });
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { MaxCascadeDepth = int.MaxValue });
        for (var i = 1; i < Levels; i++)
        {
            await manager.AddDependencyAsync(prefix + i, prefix + (i - 1));
        }

        var receipt = await manager.InvalidateAsync(prefix + 0);

        var before = GC.GetAllocatedBytesForCurrentThread();
        long total = 0;
        foreach (var key in receipt.Keys)
        {
            total += key.Path.Count;
            Assert.Same(key.Key, key.Path[^1]);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Levels, receipt.Keys.Count);
        Assert.Equal((long)Levels * (Levels + 1) / 2, total);
        Assert.True(allocated < Bound, $"reading {Levels} receipt paths allocated {allocated:N0} bytes (bound {Bound:N0})");
        Assert.Equal([prefix + 0, prefix + 1], receipt.Find(prefix + 1)!.Path);
    }
}
