namespace TaiCache.Tests.Memory;

/// <summary>The popularity sketch: what an increment returns is what a lookup then says, through saturation and halving.</summary>
public sealed class FrequencySketchTests
{
    [Fact]
    public void Increment_ReturnsTheEstimateALookupGives_ThroughSaturationAndHalving()
    {
        var sketch = new FrequencySketch(64);
        var random = new Random(5);
        var halvings = 0;
        var previous = new Dictionary<int, int>();
        for (var step = 0; step < 20_000; step++)
        {
            // A skewed key set: some keys saturate at 15, a periodic halving (every 10 x 64 additions) cuts them back.
            var hash = random.Next(0, 4) == 0 ? random.Next(0, 8) : random.Next();
            var times = random.Next(1, 4);
            var before = sketch.Frequency(hash);
            var returned = sketch.Increment(hash, times);
            Assert.Equal(sketch.Frequency(hash), returned);
            Assert.InRange(returned, 0, 15);
            if (returned < before)
            {
                halvings++;
            }

            previous[hash] = returned;
        }

        Assert.True(halvings > 0, "the test should have crossed at least one halving");
        Assert.Contains(previous.Values, v => v >= 8);
    }
}
