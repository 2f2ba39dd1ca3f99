using Microsoft.Extensions.Time.Testing;
using TaiCache.Tests.Tiering;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Once <c>await SetAsync(k, v2)</c> has returned, no read on this instance returns the older v1: not even the fail-safe
/// copy served while the lower tiers are down.
/// </summary>
public sealed class FailSafeRaceEdgeCaseTests
{
    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2, FakeTimeProvider Time) Build()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(o =>
        {
            o.CircuitBreakerFailureThreshold = 0;
            o.DefaultEntryOptions = new MultiTierEntryOptions
            {
                Ttl = TimeSpan.FromMinutes(10),
                LocalTtl = TimeSpan.FromSeconds(1),
                AllowStaleOnFailure = true,
                FailSafeMaxDuration = TimeSpan.FromHours(1),
            };
        }, time);
        return (cache, l1, l2, time);
    }

    [Fact]
    public async Task GetAsync_ReadOfL2OvertakenBySet_KeepsTheOlderValueForFailSafe_ServedAfterTheSetReturned()
    {
        var (cache, _, l2, time) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v1");
        time.Advance(TimeSpan.FromSeconds(2)); // L1's copy has expired: the next read goes to L2

        // A read finds v1 in L2 and is held before it answers.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.GetHold = hold;
        var read = cache.GetAsync<string>(key).AsTask();
        await l2.GetHeld.Task;

        // Meanwhile the key is set to v2, and the set returns.
        await cache.SetAsync(key, "v2");
        hold.SetResult();
        await read; // v1 or v2: the read was concurrent with the set
        l2.GetHold = null;

        // Later, L1's copy has expired and L2 is down: the fail-safe copy is served. It must be v2, the last value set.
        time.Advance(TimeSpan.FromSeconds(2));
        l2.Down = true;
        var after = await cache.GetAsync<string>(key);

        Assert.True(after.HasValue);
        Assert.Equal("v2", after.Value);
    }

    [Fact]
    public async Task GetManyAsync_ReadOfL2OvertakenBySet_KeepsTheOlderValueForFailSafe_ServedAfterTheSetReturned()
    {
        var (cache, _, l2, time) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v1");
        time.Advance(TimeSpan.FromSeconds(2));

        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.ReadHold = hold;
        var read = cache.GetManyAsync<string>([key]).AsTask();
        await l2.ReadHeld.Task;

        await cache.SetAsync(key, "v2");
        hold.SetResult();
        await read;
        l2.ReadHold = null;

        time.Advance(TimeSpan.FromSeconds(2));
        l2.Down = true;
        var after = await cache.GetAsync<string>(key);

        Assert.True(after.HasValue);
        Assert.Equal("v2", after.Value);
    }

    [Fact]
    public async Task GetAsync_ReadOfL2OvertakenByDelete_KeepsTheDeletedValueForFailSafe_ResurrectedAfterTheDeleteReturned()
    {
        var (cache, _, l2, time) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await cache.SetAsync(key, "v1");
        time.Advance(TimeSpan.FromSeconds(2));

        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.GetHold = hold;
        var read = cache.GetAsync<string>(key).AsTask();
        await l2.GetHeld.Task;

        Assert.True(await cache.DeleteAsync(key));
        hold.SetResult();
        await read;
        l2.GetHold = null;

        l2.Down = true;
        var after = await cache.GetAsync<string>(key);

        Assert.False(after.HasValue, $"the deleted value came back: {(after.HasValue ? after.Value : "")}");
    }
}
