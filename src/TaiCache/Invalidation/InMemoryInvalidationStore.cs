using System.Collections.Concurrent;

namespace TaiCache.Invalidation;

/// <summary>The in-process store: a <see cref="DependencyGraph"/> and a concurrent tag index.</summary>
internal sealed class InMemoryInvalidationStore : IInvalidationStore
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _tags = new(StringComparer.Ordinal);

    public InMemoryInvalidationStore(DependencyGraph graph) => Graph = graph;

    public DependencyGraph Graph { get; }

    public string Kind => "memory";

    public ValueTask<bool> AddDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken) =>
        new(Graph.AddDependency(dependent, dependency));

    public ValueTask<bool> RemoveDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken) =>
        new(Graph.RemoveDependency(dependent, dependency));

    public ValueTask RemoveKeyAsync(string key, CancellationToken cancellationToken)
    {
        Graph.RemoveKey(key);
        return ValueTask.CompletedTask;
    }

    public ValueTask WalkAsync(CascadeWalker walker, CancellationToken cancellationToken)
    {
        Graph.Walk(walker);
        return ValueTask.CompletedTask;
    }

    public ValueTask AddTagsAsync(string key, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        foreach (var tag in tags)
        {
            _tags.GetOrAdd(tag, static _ => new ConcurrentDictionary<string, byte>(StringComparer.Ordinal))[key] = 0;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyCollection<string>> GetTaggedKeysAsync(string tag, CancellationToken cancellationToken) =>
        new(_tags.TryGetValue(tag, out var keys) ? keys.Keys.ToArray() : []);

    public ValueTask<IReadOnlyCollection<string>> TakeTaggedKeysAsync(string tag, CancellationToken cancellationToken) =>
        new(_tags.TryRemove(tag, out var keys) ? keys.Keys.ToArray() : []);
}
