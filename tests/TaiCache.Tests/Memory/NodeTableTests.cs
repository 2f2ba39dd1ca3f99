namespace TaiCache.Tests.Memory;

/// <summary>The tier's hash table and key hash: every key length hashes consistently, keys spread over the buckets, and lookups stay right while the table grows.</summary>
public sealed class NodeTableTests
{
    [Fact]
    public void KeyHash_EveryLength_EqualKeysHashEqual_AndOneCharacterChangesTheHash()
    {
        var hash = new KeyHash(new Random(1));
        for (var length = 0; length <= 80; length++)
        {
            var key = new string('k', length);
            var copy = new string(key.AsSpan());
            Assert.Equal(hash.Of(key), hash.Of(copy));
            for (var position = 0; position < length; position++)
            {
                var changed = string.Create(length, position, (span, p) => { span.Fill('k'); span[p] = 'x'; });
                Assert.NotEqual(hash.Of(key), hash.Of(changed));
            }
        }
    }

    [Theory]
    [InlineData("user:{0}")]
    [InlineData("{0}")]
    [InlineData("tenant:42:orders:page:{0:D8}")]
    [InlineData("a-rather-long-cache-key-prefix-beyond-the-inline-hash:{0}")]
    public void KeyHash_SequentialKeys_SpreadEvenlyOverBuckets(string format)
    {
        const int keys = 100_000;
        const int buckets = 1 << 17;
        var hash = new KeyHash(new Random(2));
        var counts = new int[buckets];
        for (var i = 0; i < keys; i++)
        {
            counts[hash.Of(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, i)) & (buckets - 1)]++;
        }

        // Uniform hashing of 100k keys into 131,072 buckets leaves m(1 - e^(-n/m)) = 69.96k buckets used and no chain past 9 or so.
        Assert.InRange(counts.Count(c => c > 0), 69_000, 70_900);
        Assert.InRange(counts.Max(), 1, 11);
    }

    [Theory]
    [InlineData("k{0}")]
    [InlineData("{0}")]
    [InlineData("id{0}x")]
    [InlineData("product:{0}")]
    [InlineData("session:{0}:cart")]
    public void KeyHash_KeysOfManyLengths_CollideNoMoreThanChance(string format)
    {
        // 100k keys whose lengths differ (1 to 15 characters, across the 8- and 16-byte read boundaries): a 32-bit
        // hash should give about n^2 / 2^33 = 1.2 full collisions. Mixing the length in with XOR made "k1770" and
        // "k17770" collide for every secret ('1' ^ 10 == '7' ^ 12), 72 times in this family.
        const int keys = 100_000;
        for (var seed = 0; seed < 3; seed++)
        {
            var hash = new KeyHash(new Random(seed));
            var seen = new HashSet<int>();
            var collisions = 0;
            for (var i = 0; i < keys; i++)
            {
                collisions += seen.Add(hash.Of(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, i))) ? 0 : 1;
            }

            Assert.InRange(collisions, 0, 8);
        }
    }

    [Fact]
    public async Task Table_LookupsDuringGrowth_NeverReturnAnotherKeysNode()
    {
        var table = new NodeTable(16);
        var keys = Enumerable.Range(0, 50_000).Select(i => $"grow:{i}").ToArray();
        var stop = false;
        var wrong = 0;
        var reader = Task.Run(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                foreach (var key in keys.AsSpan(0, 1000))
                {
                    if (table.TryGetValue(key, out var node) && !ReferenceEquals(node.Key, key) && node.Key != key)
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
            }
        });

        foreach (var key in keys)
        {
            table.Set(new MemoryNode(key, table.Hash(key), key, MemoryNode.NoExpiry));
        }

        Volatile.Write(ref stop, true);
        await reader;
        Assert.Equal(0, wrong);
        Assert.Equal(keys.Length, table.Count);
        Assert.All(keys, key => Assert.True(table.TryGetValue(key, out var node) && node.Key == key));
    }
}
