using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TaiCache.Memcached;

/// <summary>
/// Ketama consistent hashing with the layout libmemcached (weighted ketama) and Enyim use, so a key lands on the node
/// other ketama clients put it on: each server gets <c>floor(weight / totalWeight * 40 * serverCount) * 4</c> points
/// (160 with equal weights); point group <c>i</c> is the MD5 of <c>"host:port-i"</c>, read as four little-endian
/// 32-bit numbers. A key's hash is the first four bytes of the MD5 of the key, little-endian; its node owns the first
/// point at or after that hash, wrapping round the ring.
/// </summary>
internal sealed class KetamaLocator<TNode>
    where TNode : class
{
    private const int PointsPerHash = 4;
    private const int PointsPerServer = 160;

    private readonly uint[] _points;
    private readonly TNode[] _owners;

    /// <summary>Builds the ring.</summary>
    /// <param name="nodes">The nodes with their ketama names (<c>host:port</c>) and weights.</param>
    public KetamaLocator(IReadOnlyList<(TNode Node, string Name, int Weight)> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Count == 0)
        {
            throw new ArgumentException("A ketama ring needs at least one node.", nameof(nodes));
        }

        var totalWeight = nodes.Sum(n => (long)n.Weight);
        var ring = new List<(uint Point, int Order, TNode Node)>(nodes.Count * PointsPerServer);
        Span<byte> digest = stackalloc byte[16];
        var order = 0;
        foreach (var (node, name, weight) in nodes)
        {
            var pointsForServer = PointsFor(weight, totalWeight, nodes.Count);
            for (var i = 0; i < pointsForServer / PointsPerHash; i++)
            {
                Hash($"{name}-{i}", digest);
                for (var x = 0; x < PointsPerHash; x++)
                {
                    ring.Add((BinaryPrimitives.ReadUInt32LittleEndian(digest[(x * 4)..]), order++, node));
                }
            }
        }

        ring.Sort(static (a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : a.Order.CompareTo(b.Order));
        _points = ring.Select(r => r.Point).ToArray();
        _owners = ring.Select(r => r.Node).ToArray();
    }

    /// <summary>
    /// The points a server gets on the ring, as libmemcached computes them: <c>floor(weight / totalWeight * 40 *
    /// serverCount) * 4</c>. A weight that small beside the others gets none, and such a server never receives a key.
    /// </summary>
    /// <param name="weight">The server's weight.</param>
    /// <param name="totalWeight">The sum of every server's weight.</param>
    /// <param name="serverCount">The number of servers.</param>
    /// <returns>The number of points, a multiple of 4.</returns>
    public static int PointsFor(int weight, long totalWeight, int serverCount)
    {
        var pct = (float)weight / totalWeight;
        return (int)Math.Floor((pct * PointsPerServer / PointsPerHash * serverCount) + 0.0000000001) * PointsPerHash;
    }

    /// <summary>Gets the number of points on the ring.</summary>
    public int PointCount => _points.Length;

    /// <summary>Computes a key's ketama hash.</summary>
    /// <param name="key">The key as sent to the server.</param>
    /// <returns>The first four bytes of the key's MD5, little-endian.</returns>
    public static uint HashKey(string key)
    {
        Span<byte> digest = stackalloc byte[16];
        Hash(key, digest);
        return BinaryPrimitives.ReadUInt32LittleEndian(digest);
    }

    /// <summary>Finds the node that owns a key.</summary>
    /// <param name="key">The key as sent to the server.</param>
    /// <returns>The node.</returns>
    public TNode Locate(string key) => _owners[IndexOf(HashKey(key))];

    /// <summary>Finds the first node, walking clockwise from the key's point, that <paramref name="accept"/> accepts.</summary>
    /// <param name="key">The key as sent to the server.</param>
    /// <param name="accept">Tells usable nodes (alive) from the rest.</param>
    /// <returns>The node, or <see langword="null"/> when no node is accepted.</returns>
    public TNode? Locate(string key, Func<TNode, bool> accept)
    {
        var start = IndexOf(HashKey(key));
        TNode? rejected = null;
        for (var step = 0; step < _points.Length; step++)
        {
            var node = _owners[(start + step) % _points.Length];
            if (ReferenceEquals(node, rejected))
            {
                continue;
            }

            if (accept(node))
            {
                return node;
            }

            rejected = node;
        }

        return null;
    }

    private int IndexOf(uint hash)
    {
        var index = Array.BinarySearch(_points, hash);
        if (index < 0)
        {
            index = ~index;
        }
        else
        {
            while (index > 0 && _points[index - 1] == hash)
            {
                index--;
            }
        }

        return index == _points.Length ? 0 : index;
    }

#pragma warning disable CA5351 // MD5 is what the ketama layout is defined by; it is a placement hash, not security.
    private static void Hash(string text, Span<byte> digest)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        MD5.HashData(bytes, digest);
    }
#pragma warning restore CA5351
}
