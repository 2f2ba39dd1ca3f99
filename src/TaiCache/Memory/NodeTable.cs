using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace TaiCache;

/// <summary>
/// The tier's hash table: chained buckets whose chain links live in the <see cref="MemoryNode"/>s themselves, so a hit
/// touches one object (no separate dictionary node). Reads take no lock; every write happens under the tier's lock.
/// </summary>
/// <remarks>
/// Readers never follow a broken or cyclic chain: inserts publish a fully linked node at a bucket's head, removals and
/// replacements only bypass a node (whose own link stays intact for a reader standing on it). A resize relinks the
/// nodes into a new bucket array through the same link field, each node pointing at nodes already moved, so a reader
/// on an old chain may be carried into a new one and report a miss for a present key while the table grows, which a
/// cache may always do; it never returns another key's value. The table only grows until it holds the tier's
/// capacity.
/// </remarks>
internal sealed class NodeTable
{
    private readonly KeyHash _hash = new(Random.Shared);
    private readonly int _initialSize;
    private Buckets _buckets;

    public NodeTable(long expectedEntries)
    {
        _initialSize = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(expectedEntries, 16, 1 << 16));
        _buckets = new Buckets(_initialSize);
    }

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Hash(string key) => _hash.Of(key);

    /// <summary>Finds a key's node without locking.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out MemoryNode node)
    {
        var hash = Hash(key);
        var buckets = Volatile.Read(ref _buckets);
        var current = Volatile.Read(ref buckets.Heads[hash & buckets.Mask].Head);
        while (current is not null)
        {
            if (current.Hash == hash && string.Equals(current.Key, key))
            {
                node = current;
                return true;
            }

            current = Volatile.Read(ref current.Chain);
        }

        node = null;
        return false;
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    /// <summary>Tells whether a key is in the table, given its hash (under the writers' lock).</summary>
    public bool ContainsKey(string key, int hash)
    {
        var buckets = _buckets;
        for (var current = buckets.Heads[hash & buckets.Mask].Head; current is not null; current = current.Chain)
        {
            if (current.Hash == hash && string.Equals(current.Key, key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Stores a node (under the writers' lock), replacing the node with the same key if any.</summary>
    /// <returns>The replaced node, or <see langword="null"/>.</returns>
    public MemoryNode? Set(MemoryNode node)
    {
        var buckets = _buckets;
        ref var head = ref buckets.Heads[node.Hash & buckets.Mask].Head;
        MemoryNode? previous = null;
        for (var current = head; current is not null; previous = current, current = current.Chain)
        {
            if (current.Hash == node.Hash && string.Equals(current.Key, node.Key))
            {
                node.Chain = current.Chain;
                Publish(ref head, previous, node);
                return current;
            }
        }

        node.Chain = head;
        Volatile.Write(ref head, node);
        if (++Count > buckets.Heads.Length)
        {
            Grow();
        }

        return null;
    }

    /// <summary>Removes this very node (under the writers' lock).</summary>
    /// <returns><see langword="false"/> when the node was no longer in the table.</returns>
    public bool TryRemove(MemoryNode node)
    {
        var buckets = _buckets;
        ref var head = ref buckets.Heads[node.Hash & buckets.Mask].Head;
        MemoryNode? previous = null;
        for (var current = head; current is not null; previous = current, current = current.Chain)
        {
            if (ReferenceEquals(current, node))
            {
                Publish(ref head, previous, node.Chain);
                Count--;
                return true;
            }
        }

        return false;
    }

    /// <summary>Empties the table (under the writers' lock).</summary>
    public void Clear()
    {
        Volatile.Write(ref _buckets, new Buckets(_initialSize));
        Count = 0;
    }

    private static void Publish(ref MemoryNode? head, MemoryNode? previous, MemoryNode? next)
    {
        if (previous is null)
        {
            Volatile.Write(ref head, next);
        }
        else
        {
            Volatile.Write(ref previous.Chain, next);
        }
    }

    /// <summary>
    /// Doubles the bucket array. Each node is relinked to the head of its new bucket, which holds only nodes moved before
    /// it, so every chain a reader can follow, old or new, ends.
    /// </summary>
    private void Grow()
    {
        var old = _buckets;
        var next = new Buckets(old.Heads.Length * 2);
        foreach (var bucket in old.Heads)
        {
            var current = bucket.Head;
            while (current is not null)
            {
                var following = current.Chain;
                ref var head = ref next.Heads[current.Hash & next.Mask].Head;
                Volatile.Write(ref current.Chain, head);
                head = current;
                current = following;
            }
        }

        Volatile.Write(ref _buckets, next);
    }

    private sealed class Buckets(int size)
    {
        /// <summary>The chains' heads, each in a struct: a reference into an array of a class that is not sealed costs a
        /// covariance check per access, an array of structs none.</summary>
        public readonly Bucket[] Heads = new Bucket[size];
        public readonly int Mask = size - 1;
    }

    private struct Bucket
    {
        public MemoryNode? Head;
    }
}
