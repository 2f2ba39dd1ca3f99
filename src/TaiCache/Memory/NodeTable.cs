using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TaiCache;

/// <summary>
/// The tier's hash table: chained buckets whose chain links live in the <see cref="MemoryNode"/>s themselves, so a hit
/// touches one object (no separate dictionary node). Reads take no lock; every write happens under the tier's lock.
/// </summary>
/// <remarks>
/// Readers never see a broken chain: inserts publish a fully linked node at a bucket's head, removals and replacements
/// only bypass a node (whose own link stays intact for a reader standing on it). A resize links the nodes into a new
/// bucket array through the other of the node's two link fields, leaving the old chains readable; a reader stalled
/// across two resizes may report a miss for a present key, which a cache may always do.
/// </remarks>
internal sealed class NodeTable
{
    private readonly long _seed = Random.Shared.NextInt64();
    private readonly int _initialSize;
    private Buckets _buckets;

    public NodeTable(long expectedEntries)
    {
        _initialSize = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(expectedEntries, 16, 1 << 16));
        _buckets = new Buckets(_initialSize, 0);
    }

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Hash(string key) => (int)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(key.AsSpan()), _seed);

    /// <summary>Finds a key's node without locking.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out MemoryNode node)
    {
        var hash = Hash(key);
        var buckets = Volatile.Read(ref _buckets);
        var current = Volatile.Read(ref buckets.Heads[hash & buckets.Mask]);
        if (buckets.Generation == 0)
        {
            while (current is not null)
            {
                if (current.Hash == hash && string.Equals(current.Key, key))
                {
                    node = current;
                    return true;
                }

                current = current.Chain0;
            }
        }
        else
        {
            while (current is not null)
            {
                if (current.Hash == hash && string.Equals(current.Key, key))
                {
                    node = current;
                    return true;
                }

                current = current.Chain1;
            }
        }

        node = null;
        return false;
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    /// <summary>Stores a node (under the writers' lock), replacing the node with the same key if any.</summary>
    /// <returns>The replaced node, or <see langword="null"/>.</returns>
    public MemoryNode? Set(MemoryNode node)
    {
        var buckets = _buckets;
        var g = buckets.Generation;
        ref var head = ref buckets.Heads[node.Hash & buckets.Mask];
        MemoryNode? previous = null;
        for (var current = head; current is not null; previous = current, current = Link(current, g))
        {
            if (current.Hash == node.Hash && string.Equals(current.Key, node.Key))
            {
                SetLink(node, g, Link(current, g));
                Publish(ref head, previous, g, node);
                return current;
            }
        }

        SetLink(node, g, head);
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
        var g = buckets.Generation;
        ref var head = ref buckets.Heads[node.Hash & buckets.Mask];
        MemoryNode? previous = null;
        for (var current = head; current is not null; previous = current, current = Link(current, g))
        {
            if (ReferenceEquals(current, node))
            {
                Publish(ref head, previous, g, Link(node, g));
                Count--;
                return true;
            }
        }

        return false;
    }

    /// <summary>Empties the table (under the writers' lock).</summary>
    public void Clear()
    {
        Volatile.Write(ref _buckets, new Buckets(_initialSize, 1 - _buckets.Generation));
        Count = 0;
    }

    private static void Publish(ref MemoryNode? head, MemoryNode? previous, int generation, MemoryNode? next)
    {
        if (previous is null)
        {
            Volatile.Write(ref head, next);
        }
        else if (generation == 0)
        {
            Volatile.Write(ref previous.Chain0, next);
        }
        else
        {
            Volatile.Write(ref previous.Chain1, next);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MemoryNode? Link(MemoryNode node, int generation) => generation == 0 ? node.Chain0 : node.Chain1;

    private static void SetLink(MemoryNode node, int generation, MemoryNode? next)
    {
        if (generation == 0)
        {
            node.Chain0 = next;
        }
        else
        {
            node.Chain1 = next;
        }
    }

    private void Grow()
    {
        var old = _buckets;
        var next = new Buckets(old.Heads.Length * 2, 1 - old.Generation);
        foreach (var first in old.Heads)
        {
            for (var current = first; current is not null; current = Link(current, old.Generation))
            {
                ref var head = ref next.Heads[current.Hash & next.Mask];
                SetLink(current, next.Generation, head);
                head = current;
            }
        }

        Volatile.Write(ref _buckets, next);
    }

    private sealed class Buckets(int size, int generation)
    {
        public readonly MemoryNode?[] Heads = new MemoryNode?[size];
        public readonly int Mask = size - 1;
        public readonly int Generation = generation;
    }
}
