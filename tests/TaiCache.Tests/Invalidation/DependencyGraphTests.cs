using TaiCache.Invalidation;

namespace TaiCache.Tests.Invalidation;

public sealed class DependencyGraphTests
{
    [Fact]
    public void GetTransitiveDependents_ThreeLevels_ReachesEveryLevelWithPaths()
    {
        var graph = new DependencyGraph();
        graph.AddDependency("category:7", "product:1");
        graph.AddDependency("page:home", "category:7");
        graph.AddDependency("feed:rss", "page:home");

        var walk = graph.GetTransitiveDependents("product:1");

        Assert.Equal(["category:7", "page:home", "feed:rss"], walk.Dependents);
        Assert.Equal(["product:1", "category:7", "page:home", "feed:rss"], walk.Paths["feed:rss"]);
        Assert.Empty(walk.Cycles);
        Assert.False(walk.DepthLimitReached);
    }

    [Fact]
    public void GetTransitiveDependents_Diamond_VisitsSharedDependentOnceAndReportsNoCycle()
    {
        var graph = new DependencyGraph();
        graph.AddDependency("left", "root");
        graph.AddDependency("right", "root");
        graph.AddDependency("bottom", "left");
        graph.AddDependency("bottom", "right");

        var walk = graph.GetTransitiveDependents("root");

        Assert.Equal(3, walk.Dependents.Count);
        Assert.Single(walk.Dependents, k => k == "bottom");
        Assert.Equal(3, walk.Paths["bottom"].Count);
        Assert.Empty(walk.Cycles);
    }

    [Fact]
    public void GetTransitiveDependents_Cycle_TerminatesAndReportsTheLoop()
    {
        var graph = new DependencyGraph();
        graph.AddDependency("b", "a");
        graph.AddDependency("c", "b");
        graph.AddDependency("a", "c");

        var walk = graph.GetTransitiveDependents("a");

        Assert.Equal(["b", "c"], walk.Dependents);
        var cycle = Assert.Single(walk.Cycles);
        Assert.Equal(["a", "b", "c", "a"], cycle);
    }

    [Fact]
    public void GetTransitiveDependents_CycleNotThroughRoot_IsReported()
    {
        var graph = new DependencyGraph();
        graph.AddDependency("x", "root");
        graph.AddDependency("y", "root");
        graph.AddDependency("y", "x");
        graph.AddDependency("x", "y");

        var walk = graph.GetTransitiveDependents("root");

        Assert.Equal(2, walk.Dependents.Count);
        var cycle = Assert.Single(walk.Cycles);
        Assert.Equal(3, cycle.Count);
        Assert.Equal(cycle[0], cycle[^1]);
    }

    [Fact]
    public void GetTransitiveDependents_DepthBound_StopsAndSaysSo()
    {
        var graph = new DependencyGraph(maxDepth: 2);
        for (var i = 0; i < 5; i++)
        {
            graph.AddDependency($"n{i + 1}", $"n{i}");
        }

        var walk = graph.GetTransitiveDependents("n0");

        Assert.Equal(["n1", "n2"], walk.Dependents);
        Assert.True(walk.DepthLimitReached);
        Assert.Equal(5, graph.GetTransitiveDependents("n0", maxDepth: 10).Dependents.Count);
        Assert.Empty(graph.GetTransitiveDependents("n0", maxDepth: 0).Dependents);
    }

    [Fact]
    public void RemoveDependency_And_RemoveKey_DropEdges()
    {
        var graph = new DependencyGraph();
        Assert.True(graph.AddDependency("a", "b"));
        Assert.False(graph.AddDependency("a", "b"));
        graph.AddDependency("c", "b");
        graph.AddDependency("b", "z");

        Assert.True(graph.RemoveDependency("a", "b"));
        Assert.False(graph.RemoveDependency("a", "b"));
        Assert.Equal(["c"], graph.GetDirectDependents("b"));

        Assert.Equal(2, graph.RemoveKey("b"));
        Assert.Empty(graph.GetDirectDependents("b"));
        Assert.Empty(graph.GetDirectDependents("z"));
        Assert.Empty(graph.GetDependencies("c"));
        Assert.Equal(0, graph.EdgeCount);
    }

    [Fact]
    public void AddDependency_BadInput_Throws()
    {
        var graph = new DependencyGraph();
        Assert.Throws<ArgumentException>(() => graph.AddDependency("a", "a"));
        Assert.Throws<ArgumentNullException>(() => graph.AddDependency(null!, "a"));
        Assert.Throws<InvalidCacheKeyException>(() => graph.AddDependency("a\r\nflush_all", "b"));
        Assert.Equal(0, graph.EdgeCount);
    }

    [Fact]
    public async Task AddDependency_ConcurrentWritersAndWalkers_StayConsistent()
    {
        var graph = new DependencyGraph();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                graph.AddDependency($"w{w}:{i}", "root");
            }
        }));
        var walker = Task.Run(() =>
        {
            for (var i = 0; i < 50; i++)
            {
                var walk = graph.GetTransitiveDependents("root");
                Assert.Equal(walk.Dependents.Count, walk.Dependents.Distinct().Count());
            }
        });

        await Task.WhenAll([.. writers, walker]);

        Assert.Equal(8_000, graph.GetTransitiveDependents("root").Dependents.Count);
        Assert.Equal(8_000, graph.EdgeCount);
    }
}
