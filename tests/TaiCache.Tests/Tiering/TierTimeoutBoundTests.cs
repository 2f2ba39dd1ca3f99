using System.Diagnostics;
using TaiCache.Tiering;
using Xunit.Abstractions;
namespace TaiCache.Tests.Tiering;

/// <summary>
/// "A slow, dead or unreachable remote tier costs at most TierTimeout per call" (docs/reliability.md): a read-through
/// load whose read of a tier failed does not then wait on that same tier again to store the factory's value.
/// </summary>
/// <remarks>
/// What proves "one timeout, not two" is structural: the stalled tier is never asked to store (its set calls stay 0).
/// The elapsed time is printed, not asserted: on a saturated machine it says more about the scheduler than the cache.
/// </remarks>
public sealed class TierTimeoutBoundTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TierTimeout = TimeSpan.FromMilliseconds(400);

    [Fact]
    public async Task GetOrSetAsync_L2Stalled_CostsOneTierTimeout_AndDoesNotWriteToTheStalledTier()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(o => { o.TierTimeout = TierTimeout; o.CircuitBreakerFailureThreshold = 0; }, withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        l2.Delay = TimeSpan.FromSeconds(30);

        var watch = Stopwatch.StartNew();
        var value = await cache.GetOrSetAsync(key, static _ => ValueTask.FromResult(7));
        var elapsed = watch.Elapsed;

        Assert.Equal(7, value);
        Assert.Equal(0, l2.SetCalls); // the read of L2 just timed out: no second wait on it
        Assert.True(l1.TryGet<int>(key, out var cached) && cached == 7);
        Assert.Equal(7, (await l3!.Inner.GetAsync<int>(key)).Value); // the healthy tier below still gets the value
        output.WriteLine($"took {elapsed.TotalMilliseconds:F0} ms with a {TierTimeout.TotalMilliseconds} ms TierTimeout");
    }

    [Fact]
    public async Task GetOrSetManyAsync_L2Stalled_DoesNotWriteToTheStalledTier()
    {
        var (cache, l1, l2, l3) = TierTestKit.Build(o => { o.TierTimeout = TierTimeout; o.CircuitBreakerFailureThreshold = 0; }, withL3: true);
        await using var scope = cache;
        var keys = new[] { TierTestKit.Key(this) + ":a", TierTestKit.Key(this) + ":b" };
        l2.Delay = TimeSpan.FromSeconds(30);

        var watch = Stopwatch.StartNew();
        var found = await cache.GetOrSetManyAsync<int>(keys, static (missing, _) =>
            ValueTask.FromResult<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, k => k.Length)));
        var elapsed = watch.Elapsed;

        Assert.Equal(2, found.Count);
        Assert.Equal(0, l2.SetManyCalls + l2.SetCalls);
        Assert.All(keys, k => Assert.True(l1.TryGet<int>(k, out _)));
        Assert.Equal(keys[0].Length, (await l3!.Inner.GetAsync<int>(keys[0])).Value);
        output.WriteLine($"took {elapsed.TotalMilliseconds:F0} ms with a {TierTimeout.TotalMilliseconds} ms TierTimeout");
    }
}
