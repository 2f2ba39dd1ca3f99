namespace TaiCache.Invalidation;

/// <summary>
/// Breadth-first walk over "dependents of" edges, shared by the in-process <see cref="DependencyGraph"/> and the
/// distributed (Redis) store: the caller feeds each level's edges, the walker keeps visited keys, depths and parents,
/// never revisits a key (so cycles cannot loop), and finds cycles among the reached keys at the end.
/// </summary>
internal sealed class CascadeWalker
{
    private readonly Dictionary<string, CascadePath> _nodes = new(StringComparer.Ordinal);
    private readonly List<string> _roots = [];
    private readonly List<string> _dependents = [];
    private readonly List<(string From, string To)> _crossEdges = [];
    private readonly int _maxDepth;
    private List<string> _frontier = [];
    private List<string> _next = [];
    private int _depth;

    public CascadeWalker(IEnumerable<string> roots, int maxDepth)
    {
        _maxDepth = maxDepth;
        foreach (var root in roots)
        {
            if (_nodes.TryAdd(root, new CascadePath(root, null)))
            {
                _roots.Add(root);
                _frontier.Add(root);
            }
        }
    }

    /// <summary>Gets the keys whose dependents are to be fetched next.</summary>
    public IReadOnlyList<string> Frontier => _frontier;

    /// <summary>Gets a value indicating whether dependents were cut off by the depth bound.</summary>
    public bool DepthLimitReached { get; private set; }

    /// <summary>Gets the number of keys reached so far.</summary>
    public int Count => _nodes.Count;

    /// <summary>Records the direct dependents of a frontier key.</summary>
    public void AddDependents(string from, IEnumerable<string> dependents)
    {
        CascadePath? parent = null;
        foreach (var to in dependents)
        {
            if (_nodes.ContainsKey(to))
            {
                _crossEdges.Add((from, to));
                continue;
            }

            if (_depth + 1 > _maxDepth)
            {
                DepthLimitReached = true;
                continue;
            }

            _nodes.Add(to, new CascadePath(to, parent ??= _nodes[from]));
            _dependents.Add(to);
            _next.Add(to);
        }
    }

    /// <summary>Moves to the next level; returns <see langword="false"/> when there is none.</summary>
    public bool MoveNext()
    {
        (_frontier, _next) = (_next, _frontier);
        _next.Clear();
        _depth++;
        return _frontier.Count > 0;
    }

    /// <summary>Gets the shortest path from a root to a reached key: O(1), the path shares its parent's links.</summary>
    public IReadOnlyList<string> PathTo(string key) => _nodes[key];

    /// <summary>Gets the depth at which a key was reached (roots are 0).</summary>
    public int DepthOf(string key) => _nodes[key].Depth;

    public DependencyTraversal ToTraversal() =>
        new(_roots.ToArray(), _dependents.ToArray(), PathTo, DepthOf, FindCycles(), DepthLimitReached);

    /// <summary>How many cycles one walk reports at most (see <see cref="DependencyTraversal.Cycles"/>).</summary>
    public const int MaxReportedCycles = 32;

    /// <summary>Finds cycles among reached keys with an iterative depth-first search (tree edges plus cross edges), the first <see cref="MaxReportedCycles"/>.</summary>
    public IReadOnlyList<IReadOnlyList<string>> FindCycles()
    {
        if (_crossEdges.Count == 0)
        {
            // Only tree edges: a forest has no cycle.
            return [];
        }

        var adjacency = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Link(string from, string to)
        {
            if (!adjacency.TryGetValue(from, out var list))
            {
                adjacency[from] = list = [];
            }

            list.Add(to);
        }

        foreach (var (key, node) in _nodes)
        {
            if (node.ParentKey is { } parent)
            {
                Link(parent, key);
            }
        }

        foreach (var (from, to) in _crossEdges)
        {
            Link(from, to);
        }

        var cycles = new List<IReadOnlyList<string>>();
        var state = new Dictionary<string, byte>(StringComparer.Ordinal); // 1 = on the stack, 2 = done
        var stack = new List<string>();
        var iterators = new Stack<(string Key, int Next)>();
        foreach (var start in _nodes.Keys)
        {
            if (state.ContainsKey(start))
            {
                continue;
            }

            iterators.Push((start, 0));
            state[start] = 1;
            stack.Add(start);
            while (iterators.Count > 0)
            {
                var (key, next) = iterators.Pop();
                if (adjacency.TryGetValue(key, out var edges) && next < edges.Count)
                {
                    iterators.Push((key, next + 1));
                    var to = edges[next];
                    if (!state.TryGetValue(to, out var s))
                    {
                        state[to] = 1;
                        stack.Add(to);
                        iterators.Push((to, 0));
                    }
                    else if (s == 1)
                    {
                        var from = stack.LastIndexOf(to);
                        var cycle = new List<string>(stack.Count - from + 1);
                        for (var i = from; i < stack.Count; i++)
                        {
                            cycle.Add(stack[i]);
                        }

                        cycle.Add(to);
                        cycles.Add(cycle);
                        if (cycles.Count == MaxReportedCycles)
                        {
                            // A dense graph has a back edge per edge, each a copy of the stack: a few tell the story.
                            return cycles;
                        }
                    }
                }
                else
                {
                    state[key] = 2;
                    stack.RemoveAt(stack.Count - 1);
                }
            }
        }

        return cycles;
    }
}
