namespace TaiCache.Tests.Memory;

/// <summary>
/// The ghost list remembers the last <c>Capacity</c> evicted hashes: never one older than that (no false positives),
/// almost all of the recent ones (a few may be pushed out of a full bucket early), through growth, shrinking and clears.
/// </summary>
public sealed class GhostQueueTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(300)]
    [InlineData(20_000)]
    public void RandomAdds_RememberTheRecentOnes_AndNothingOlder(int capacity)
    {
        var random = new Random(capacity);
        var ghosts = new GhostQueue(capacity);
        var added = new List<int>();
        var remembered = 0;
        var expected = 0;
        for (var step = 0; step < 60_000; step++)
        {
            var hash = random.Next(int.MinValue, int.MaxValue);
            ghosts.Add(hash);
            added.Add(hash);
            Assert.Equal(Math.Min(added.Count, capacity), ghosts.Count);
            Assert.True(ghosts.Contains(hash), "the latest addition must be remembered");

            if (step % 97 == 0)
            {
                var recent = new HashSet<int>(added.Skip(Math.Max(0, added.Count - capacity)));
                foreach (var old in added.Take(Math.Max(0, added.Count - capacity)).TakeLast(2_000))
                {
                    if (!recent.Contains(old))
                    {
                        Assert.False(ghosts.Contains(old), $"hash {old} aged out but is still reported");
                    }
                }

                foreach (var young in recent)
                {
                    expected++;
                    remembered += ghosts.Contains(young) ? 1 : 0;
                }
            }
        }

        Assert.InRange((double)remembered / expected, 0.95, 1.0);
    }

    [Fact]
    public void Resize_Shrinking_ForgetsWhatFallsOutsideTheNewCapacity()
    {
        var ghosts = new GhostQueue(1_000);
        for (var i = 0; i < 1_000; i++)
        {
            ghosts.Add(i * 7919);
        }

        ghosts.Resize(100);

        Assert.Equal(100, ghosts.Count);
        Assert.False(ghosts.Contains(0));
        Assert.False(ghosts.Contains(899 * 7919));
        Assert.True(ghosts.Contains(999 * 7919));
    }

    [Fact]
    public void SameHashAddedTwice_IsRememberedFromItsLatestAddition()
    {
        var ghosts = new GhostQueue(3);
        ghosts.Add(42);
        ghosts.Add(1);
        ghosts.Add(42);
        ghosts.Add(2);
        ghosts.Add(3);

        // 42's first addition aged out, its second is among the last three.
        Assert.True(ghosts.Contains(42));
        ghosts.Add(4);
        Assert.False(ghosts.Contains(42));
    }

    [Fact]
    public void Clear_ForgetsEverything_AndTheQueueKeepsWorking()
    {
        var ghosts = new GhostQueue(100);
        for (var i = 0; i < 150; i++)
        {
            ghosts.Add(i * 31);
        }

        ghosts.Clear();
        Assert.Equal(0, ghosts.Count);
        Assert.False(ghosts.Contains(31 * 149));
        Assert.False(ghosts.Contains(0));

        ghosts.Add(5);
        Assert.True(ghosts.Contains(5));
        Assert.Equal(1, ghosts.Count);
    }
}
