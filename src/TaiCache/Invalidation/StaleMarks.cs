using System.Collections.Concurrent;

namespace TaiCache.Invalidation;

/// <summary>
/// The keys a <see cref="InvalidationStrategy.Lazy"/> invalidation marked stale, with a count kept beside the map:
/// <see cref="ConcurrentDictionary{TKey, TValue}.Count"/> and <c>IsEmpty</c> take every lock stripe, which is far too
/// slow on the read path and inside a 10,000-key cascade.
/// </summary>
internal sealed class StaleMarks
{
    private readonly ConcurrentDictionary<string, byte> _marks = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Marks a key unless the bound is reached; a key already marked stays marked.</summary>
    public bool TryMark(string key, int capacity)
    {
        if (_marks.ContainsKey(key))
        {
            return true;
        }

        if (Volatile.Read(ref _count) >= capacity)
        {
            return false;
        }

        if (_marks.TryAdd(key, 0))
        {
            Interlocked.Increment(ref _count);
        }

        return true;
    }

    public bool IsMarked(string key) => Volatile.Read(ref _count) != 0 && _marks.ContainsKey(key);

    /// <summary>Clears a key's mark; returns <see langword="true"/> when it was marked.</summary>
    public bool Unmark(string key)
    {
        if (Volatile.Read(ref _count) == 0 || !_marks.TryRemove(key, out _))
        {
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }
}
