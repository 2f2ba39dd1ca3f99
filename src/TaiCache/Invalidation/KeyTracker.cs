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

    public KeyTracker(int capacity) => _capacity = capacity;

    public bool Overflowed => Volatile.Read(ref _overflowed) != 0;

    public int Count => _keys.Count;

    /// <summary>Tracks a key; returns <see langword="false"/> when this call made the tracker overflow.</summary>
    public bool Add(string key)
    {
        if (_keys.ContainsKey(key))
        {
            return true;
        }

        if (_keys.Count >= _capacity)
        {
            return Interlocked.Exchange(ref _overflowed, 1) != 0;
        }

        _keys.TryAdd(key, 0);
        return true;
    }

    public void Remove(string key) => _keys.TryRemove(key, out _);

    public ICollection<string> Snapshot() => _keys.Keys;

    public void Reset()
    {
        _keys.Clear();
        Volatile.Write(ref _overflowed, 0);
    }
}
