namespace TaiCache.Invalidation;

/// <summary>
/// The result of walking a dependency graph from one or more keys: every key reached, the path that reached it, the
/// cycles met on the way (reported, never followed twice), and whether the depth bound cut the walk short.
/// </summary>
public sealed class DependencyTraversal
{
    private readonly Func<string, IReadOnlyList<string>> _pathTo;
    private readonly Func<string, int> _depthOf;
    private Dictionary<string, IReadOnlyList<string>>? _paths;

    internal DependencyTraversal(
        IReadOnlyList<string> roots,
        IReadOnlyList<string> dependents,
        Func<string, IReadOnlyList<string>> pathTo,
        Func<string, int> depthOf,
        IReadOnlyList<IReadOnlyList<string>> cycles,
        bool depthLimitReached)
    {
        Roots = roots;
        Dependents = dependents;
        _pathTo = pathTo;
        _depthOf = depthOf;
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
    /// <remarks>
    /// The paths share their links (a key's path is its parent's path plus the key), so this dictionary costs one entry
    /// per key however deep the walk went. A path lays its keys out only when read: enumerating one costs O(its
    /// length) and keeps nothing; indexing one (other than its last key) lays it out once and keeps it.
    /// </remarks>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Paths
    {
        get
        {
            if (_paths is null)
            {
                var paths = new Dictionary<string, IReadOnlyList<string>>(Roots.Count + Dependents.Count, StringComparer.Ordinal);
                foreach (var key in AllKeys)
                {
                    paths[key] = _pathTo(key);
                }

                _paths = paths;
            }

            return _paths;
        }
    }

    /// <summary>
    /// Gets the cycles found among the reached keys, each as the keys around the loop with the first repeated at the
    /// end (<c>[a, b, a]</c>). A cycle is walked once and reported; it never loops. At most 32 are reported: in a dense
    /// graph every edge can close one, and listing them all cost gigabytes.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles { get; }

    /// <summary>Gets a value indicating whether dependents beyond the depth bound were left out.</summary>
    public bool DepthLimitReached { get; }

    /// <summary>Gets the shortest path that reached a key: a root first, the key last.</summary>
    /// <param name="key">A key the walk reached.</param>
    /// <returns>The path.</returns>
    /// <exception cref="KeyNotFoundException">The walk did not reach the key.</exception>
    public IReadOnlyList<string> GetPath(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _paths is not null ? _paths[key] : _pathTo(key);
    }

    /// <summary>Gets how many dependency levels separate a key from the root that reached it (0 for a root).</summary>
    /// <param name="key">A key the walk reached.</param>
    /// <returns>The depth.</returns>
    /// <exception cref="KeyNotFoundException">The walk did not reach the key.</exception>
    public int GetDepth(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _depthOf(key);
    }

    /// <summary>Gets every key reached: the roots, then the dependents.</summary>
    public IEnumerable<string> AllKeys => Roots.Concat(Dependents);
}
