using System.Collections.Concurrent;

namespace TaiCache.Invalidation;

/// <summary>
/// The in-process store: a <see cref="DependencyGraph"/> and a concurrent tag index, each membership with the expiry of
/// the value it was added for. Expired memberships are swept from a tag when it has doubled since its last sweep, so
/// the index stays proportional to the live tagged values at amortized constant cost per add.
/// </summary>
internal sealed class InMemoryInvalidationStore : IInvalidationStore
{
    private readonly ConcurrentDictionary<string, TagMembers> _tags = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public InMemoryInvalidationStore(DependencyGraph graph, TimeProvider time)
    {
        Graph = graph;
        _time = time;
    }

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

    public ValueTask AddTagsAsync(string key, IReadOnlyCollection<string> tags, long expiresAtUnixMs, CancellationToken cancellationToken)
    {
        var expiry = expiresAtUnixMs == 0 ? long.MaxValue : expiresAtUnixMs;
        foreach (var tag in tags)
        {
            // A tag taken meanwhile retires its members object: add to the tag's new one, not to the taken one.
            while (!_tags.GetOrAdd(tag, static _ => new TagMembers()).TryAdd(key, expiry, _time))
            {
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveTagsAsync(string key, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        foreach (var tag in tags)
        {
            if (_tags.TryGetValue(tag, out var members))
            {
                members.Remove(key);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Counts a tag's memberships, expired ones not yet swept included (for tests).</summary>
    internal int CountMemberships(string tag) => _tags.TryGetValue(tag, out var members) ? members.Count : 0;

    public ValueTask<IReadOnlyCollection<string>> GetTaggedKeysAsync(string tag, CancellationToken cancellationToken) =>
        new(_tags.TryGetValue(tag, out var members) ? members.Live(_time) : []);

    public ValueTask<IReadOnlyCollection<string>> TakeTaggedKeysAsync(string tag, CancellationToken cancellationToken) =>
        new(_tags.TryRemove(tag, out var members) ? members.Retire(_time) : []);

    /// <summary>A tag's keys with the expiry of each membership.</summary>
    internal sealed class TagMembers
    {
        private const int FirstSweepAt = 64;
        private readonly ConcurrentDictionary<string, long> _expiries = new(StringComparer.Ordinal);
        private int _sweepAt = FirstSweepAt;
        private readonly Lock _gate = new();
        private bool _retired;

        public int Count => _expiries.Count;

        /// <summary>Adds a membership; <see langword="false"/> when the tag was taken (retired) first, so the caller adds it to the tag's next members.</summary>
        public bool TryAdd(string key, long expiresAtUnixMs, TimeProvider time)
        {
            lock (_gate)
            {
                if (_retired)
                {
                    return false;
                }

                // A key tagged again keeps the later expiry: an older value's shorter life must not drop the newer one's tag.
                _expiries.AddOrUpdate(key, static (_, added) => added, static (_, old, added) => Math.Max(old, added), expiresAtUnixMs);
            }

            if (_expiries.Count >= Volatile.Read(ref _sweepAt))
            {
                Sweep(time);
            }

            return true;
        }

        /// <summary>
        /// Takes the keys whose membership is live (the tag was removed from the store): no membership can be added
        /// after this snapshot. An expired membership has ended with its value and is dropped with the tag, as
        /// <see cref="Live"/> leaves it out.
        /// </summary>
        public string[] Retire(TimeProvider time)
        {
            lock (_gate)
            {
                _retired = true;
            }

            // Retired: nothing is added any more, so the live ones can be read outside the lock.
            return Live(time);
        }

        public void Remove(string key) => _expiries.TryRemove(key, out _);

        public string[] Live(TimeProvider time)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            return [.. _expiries.Where(m => m.Value > now).Select(static m => m.Key)];
        }

        private void Sweep(TimeProvider time)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var member in _expiries)
            {
                if (member.Value <= now)
                {
                    _expiries.TryRemove(member);
                }
            }

            Volatile.Write(ref _sweepAt, Math.Max(FirstSweepAt, _expiries.Count * 2));
        }
    }
}
