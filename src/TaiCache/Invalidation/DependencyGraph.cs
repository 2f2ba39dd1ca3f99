namespace TaiCache.Invalidation;

/// <summary>
/// A thread-safe, in-process graph of "A depends on B" edges between cache keys: when B changes, A (and whatever
/// depends on A) is stale. Walks are breadth first, visit each key once (a cycle never loops and is reported in
/// <see cref="DependencyTraversal.Cycles"/>), and stop at a depth bound.
/// </summary>
public sealed class DependencyGraph
{
    /// <summary>The depth bound used when none is given: 64 levels.</summary>
    public const int DefaultMaxDepth = 64;

    private static readonly IReadOnlyCollection<string> None = [];

    private readonly Dictionary<string, HashSet<string>> _dependents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _dependencies = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _edges;

    /// <summary>Initializes an empty graph.</summary>
    /// <param name="maxDepth">The default bound on how many levels a walk follows; must be zero or more.</param>
    public DependencyGraph(int maxDepth = DefaultMaxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDepth);
        MaxDepth = maxDepth;
    }

    /// <summary>Gets the default bound on how many levels a walk follows.</summary>
    public int MaxDepth { get; }

    /// <summary>Gets the number of edges.</summary>
    public long EdgeCount => Interlocked.Read(ref _edges);

    /// <summary>Records that <paramref name="dependent"/> depends on <paramref name="dependency"/>.</summary>
    /// <param name="dependent">The key that must be invalidated when the dependency is.</param>
    /// <param name="dependency">The key it depends on.</param>
    /// <returns><see langword="true"/> when the edge is new.</returns>
    /// <exception cref="ArgumentException">A key depends on itself.</exception>
    public bool AddDependency(string dependent, string dependency)
    {
        CacheKeyRules.Validate(dependent);
        CacheKeyRules.Validate(dependency);
        if (string.Equals(dependent, dependency, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The cache {TaiCacheDiagnostics.DescribeKey(dependent)} cannot depend on itself.", nameof(dependent));
        }

        lock (_lock)
        {
            if (!GetOrAdd(_dependents, dependency).Add(dependent))
            {
                return false;
            }

            GetOrAdd(_dependencies, dependent).Add(dependency);
            _edges++;
            return true;
        }
    }

    /// <summary>Removes the edge "<paramref name="dependent"/> depends on <paramref name="dependency"/>".</summary>
    /// <param name="dependent">The dependent key.</param>
    /// <param name="dependency">The key it depended on.</param>
    /// <returns><see langword="true"/> when the edge existed.</returns>
    public bool RemoveDependency(string dependent, string dependency)
    {
        CacheKeyRules.Validate(dependent);
        CacheKeyRules.Validate(dependency);
        lock (_lock)
        {
            if (!RemoveEdge(_dependents, dependency, dependent))
            {
                return false;
            }

            RemoveEdge(_dependencies, dependent, dependency);
            _edges--;
            return true;
        }
    }

    /// <summary>Removes every edge into and out of a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns>How many edges were removed.</returns>
    public int RemoveKey(string key)
    {
        CacheKeyRules.Validate(key);
        lock (_lock)
        {
            var removed = 0;
            if (_dependents.Remove(key, out var dependents))
            {
                foreach (var d in dependents)
                {
                    RemoveEdge(_dependencies, d, key);
                }

                removed += dependents.Count;
            }

            if (_dependencies.Remove(key, out var dependencies))
            {
                foreach (var d in dependencies)
                {
                    RemoveEdge(_dependents, d, key);
                }

                removed += dependencies.Count;
            }

            _edges -= removed;
            return removed;
        }
    }

    /// <summary>Removes every edge.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _dependents.Clear();
            _dependencies.Clear();
            _edges = 0;
        }
    }

    /// <summary>Gets the keys that depend directly on a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns>A snapshot of the direct dependents.</returns>
    public IReadOnlyCollection<string> GetDirectDependents(string key)
    {
        CacheKeyRules.Validate(key);
        lock (_lock)
        {
            return _dependents.TryGetValue(key, out var set) ? set.ToArray() : None;
        }
    }

    /// <summary>Gets the keys a key depends on directly.</summary>
    /// <param name="key">The key.</param>
    /// <returns>A snapshot of the direct dependencies.</returns>
    public IReadOnlyCollection<string> GetDependencies(string key)
    {
        CacheKeyRules.Validate(key);
        lock (_lock)
        {
            return _dependencies.TryGetValue(key, out var set) ? set.ToArray() : None;
        }
    }

    /// <summary>Walks every key that depends, directly or transitively, on a key.</summary>
    /// <param name="key">The key that changed.</param>
    /// <param name="maxDepth">How many levels to follow; <see langword="null"/> for <see cref="MaxDepth"/>.</param>
    /// <returns>The keys reached, their paths, and any cycles.</returns>
    public DependencyTraversal GetTransitiveDependents(string key, int? maxDepth = null)
    {
        CacheKeyRules.Validate(key);
        return GetTransitiveDependents([key], maxDepth);
    }

    /// <summary>Walks every key that depends, directly or transitively, on any of several keys.</summary>
    /// <param name="keys">The keys that changed.</param>
    /// <param name="maxDepth">How many levels to follow; <see langword="null"/> for <see cref="MaxDepth"/>.</param>
    /// <returns>The keys reached, their paths, and any cycles.</returns>
    public DependencyTraversal GetTransitiveDependents(IEnumerable<string> keys, int? maxDepth = null)
    {
        var roots = CacheKeyRules.ValidateAll(keys);
        if (maxDepth is { } d)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(maxDepth));
        }

        var walker = new CascadeWalker(roots, maxDepth ?? MaxDepth);
        Walk(walker);

        return walker.ToTraversal();
    }

    /// <summary>Feeds a walker from this graph, level by level, under the graph's lock (a consistent snapshot).</summary>
    internal void Walk(CascadeWalker walker)
    {
        lock (_lock)
        {
            do
            {
                foreach (var key in walker.Frontier)
                {
                    if (_dependents.TryGetValue(key, out var set))
                    {
                        walker.AddDependents(key, set);
                    }
                }
            }
            while (walker.MoveNext());
        }
    }

    private static HashSet<string> GetOrAdd(Dictionary<string, HashSet<string>> map, string key)
    {
        if (!map.TryGetValue(key, out var set))
        {
            map[key] = set = new HashSet<string>(StringComparer.Ordinal);
        }

        return set;
    }

    private static bool RemoveEdge(Dictionary<string, HashSet<string>> map, string from, string to)
    {
        if (!map.TryGetValue(from, out var set) || !set.Remove(to))
        {
            return false;
        }

        if (set.Count == 0)
        {
            map.Remove(from);
        }

        return true;
    }
}
