namespace TaiCache.Invalidation;

/// <summary>
/// The result of walking a dependency graph from one or more keys: every key reached, the path that reached it, the
/// cycles met on the way (reported, never followed twice), and whether the depth bound cut the walk short.
/// </summary>
public sealed class DependencyTraversal
{
    internal DependencyTraversal(
        IReadOnlyList<string> roots,
        IReadOnlyList<string> dependents,
        IReadOnlyDictionary<string, IReadOnlyList<string>> paths,
        IReadOnlyList<IReadOnlyList<string>> cycles,
        bool depthLimitReached)
    {
        Roots = roots;
        Dependents = dependents;
        Paths = paths;
        Cycles = cycles;
        DepthLimitReached = depthLimitReached;
    }

    /// <summary>Gets the keys the walk started from.</summary>
    public IReadOnlyList<string> Roots { get; }

    /// <summary>Gets the keys that depend, directly or transitively, on a root (roots excluded), nearest first.</summary>
    public IReadOnlyList<string> Dependents { get; }

    /// <summary>
    /// Gets, for every key reached (roots included), the shortest path that reached it: a root first, the key last
    /// (<c>[product:1, category:7, page:home]</c> reads "page:home depends on category:7, which depends on product:1").
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Paths { get; }

    /// <summary>
    /// Gets the cycles found among the reached keys, each as the keys around the loop with the first repeated at the
    /// end (<c>[a, b, a]</c>). A cycle is walked once and reported; it never loops.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles { get; }

    /// <summary>Gets a value indicating whether dependents beyond the depth bound were left out.</summary>
    public bool DepthLimitReached { get; }

    /// <summary>Gets every key reached: the roots, then the dependents.</summary>
    public IEnumerable<string> AllKeys => Roots.Concat(Dependents);
}
