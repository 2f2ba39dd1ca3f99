using System.Runtime.InteropServices;

namespace TaiCache;

/// <summary>
/// A bounded FIFO of recently evicted keys' hashes (no keys, no values), answering "was this key evicted lately?"
/// as ARC's ghost lists do. Not thread safe: used under the tier's write lock.
/// </summary>
internal sealed class GhostQueue
{
    private readonly Dictionary<int, int> _counts = [];
    private int[] _ring = new int[16];
    private int _head;
    private int _size;

    public GhostQueue(long capacity) => Capacity = (int)Math.Clamp(capacity, 1, 1 << 24);

    public int Capacity { get; private set; }

    public int Count => _size;

    public void Resize(long capacity) => Capacity = (int)Math.Clamp(capacity, 1, 1 << 24);

    public void Add(int hash)
    {
        while (_size >= Capacity)
        {
            RemoveOldest();
        }

        if (_size == _ring.Length)
        {
            // The ring stays a power of two long, so positions wrap with a mask rather than a division.
            var bigger = new int[_ring.Length * 2];
            for (var i = 0; i < _size; i++)
            {
                bigger[i] = _ring[(_head + i) & (_ring.Length - 1)];
            }

            _ring = bigger;
            _head = 0;
        }

        _ring[(_head + _size) & (_ring.Length - 1)] = hash;
        _size++;
        CollectionsMarshal.GetValueRefOrAddDefault(_counts, hash, out _)++;
    }

    public bool Contains(int hash) => _counts.ContainsKey(hash);

    public void Clear()
    {
        _counts.Clear();
        _head = 0;
        _size = 0;
    }

    private void RemoveOldest()
    {
        var hash = _ring[_head];
        _head = (_head + 1) & (_ring.Length - 1);
        _size--;
        ref var left = ref CollectionsMarshal.GetValueRefOrNullRef(_counts, hash);
        if (--left == 0)
        {
            _counts.Remove(hash);
        }
    }
}
