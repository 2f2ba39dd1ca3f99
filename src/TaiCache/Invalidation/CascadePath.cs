using System.Collections;

namespace TaiCache.Invalidation;

/// <summary>
/// The path that reached one key of a walk: this key plus a link to its parent's path, so every path of a walk shares
/// its ancestors and a walk of n keys holds n links, however deep. Keys are laid out root first only when asked for:
/// enumerating costs O(depth) and keeps nothing; the first read through the indexer (other than the last key) lays the
/// path out once and keeps it, so an indexed loop is O(depth) too.
/// </summary>
internal sealed class CascadePath : IReadOnlyList<string>
{
    private readonly CascadePath? _parent;
    private string[]? _laidOut;

    public CascadePath(string key, CascadePath? parent)
    {
        Key = key;
        _parent = parent;
        Depth = parent is null ? 0 : parent.Depth + 1;
    }

    /// <summary>Gets the key this path reached (its last element).</summary>
    public string Key { get; }

    /// <summary>Gets the number of levels between the root and <see cref="Key"/> (0 for a root).</summary>
    public int Depth { get; }

    /// <summary>Gets the key this path's key was reached from, or <see langword="null"/> for a root.</summary>
    public string? ParentKey => _parent?.Key;

    /// <inheritdoc />
    public int Count => Depth + 1;

    /// <inheritdoc />
    public string this[int index]
    {
        get
        {
            if ((uint)index > (uint)Depth)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"A path of {Count} key(s) has no element {index}.");
            }

            return index == Depth ? Key : (Volatile.Read(ref _laidOut) ?? LayOutOnce())[index];
        }
    }

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator()
    {
        var keys = Volatile.Read(ref _laidOut) ?? LayOut();
        for (var i = 0; i < keys.Length; i++)
        {
            yield return keys[i];
        }
    }

    /// <inheritdoc />
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private string[] LayOutOnce()
    {
        var keys = LayOut();
        return Interlocked.CompareExchange(ref _laidOut, keys, null) ?? keys;
    }

    private string[] LayOut()
    {
        var keys = new string[Count];
        var link = this;
        for (var i = Depth; i >= 0; i--)
        {
            keys[i] = link!.Key;
            link = link._parent;
        }

        return keys;
    }
}
