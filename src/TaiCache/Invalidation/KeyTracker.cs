using System.Collections.Concurrent;

namespace TaiCache.Invalidation;

/// <summary>
/// The keys a manager has written or linked, so a pattern can be matched on tiers that cannot list their keys.
/// Bounded: past its capacity it stops tracking and reports <see cref="Overflowed"/>, and pattern invalidation falls
/// back to clearing in-memory tiers.
/// </summary>
internal sealed class KeyTracker
{
    private readonly ConcurrentDictionary<string, byte> _keys = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private int _overflowed;
    private int _count;

    public KeyTracker(int capacity) => _capacity = capacity;

    public bool Overflowed => Volatile.Read(ref _overflowed) != 0;

    /// <summary>Gets the number of keys tracked (kept beside the map: <c>ConcurrentDictionary.Count</c> takes every lock stripe).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Tracks a key; returns <see langword="false"/> when this call made the tracker overflow.</summary>
    public bool Add(string key)
    {
        if (_keys.ContainsKey(key))
        {
            return true;
        }

        if (Volatile.Read(ref _count) >= _capacity)
        {
            return Interlocked.Exchange(ref _overflowed, 1) != 0;
        }

        if (_keys.TryAdd(key, 0))
        {
            Interlocked.Increment(ref _count);
        }

        return true;
    }

    public void Remove(string key)
    {
        if (_keys.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Enumerates the tracked keys (a moving view: keys added or removed meanwhile may or may not appear).</summary>
    public IEnumerable<string> Snapshot() => _keys.Select(static p => p.Key);

    public void Reset()
    {
        foreach (var key in _keys.Keys)
        {
            Remove(key);
        }

        Volatile.Write(ref _overflowed, 0);
    }
}
