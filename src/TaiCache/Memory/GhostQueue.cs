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
            var bigger = new int[Math.Min(_ring.Length * 2, Math.Max(Capacity, 16))];
            for (var i = 0; i < _size; i++)
            {
                bigger[i] = _ring[(_head + i) % _ring.Length];
            }

            _ring = bigger;
            _head = 0;
        }

        _ring[(_head + _size) % _ring.Length] = hash;
        _size++;
        _counts[hash] = _counts.GetValueOrDefault(hash) + 1;
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
        _head = (_head + 1) % _ring.Length;
        _size--;
        var left = _counts[hash] - 1;
        if (left == 0)
        {
            _counts.Remove(hash);
        }
        else
        {
            _counts[hash] = left;
        }
    }
}
