using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Once <c>await SetAsync(k, v2)</c> (or <c>DeleteAsync</c>) has returned, no read on this instance returns the older v1:
/// not even the fail-safe copy served while the lower tiers are down (a read overtaken by the write kept it).
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

    /// <summary>
    /// A read finds v1 in L2 and is held before it answers; meanwhile a write of the key returns; later L1's copy has
    /// expired and L2 is down, so the fail-safe copy is what a read gets: the write's value, or nothing after a delete.
    /// </summary>
    /// <param name="batch">Whether the overtaken read is a <c>GetManyAsync</c> (else a <c>GetAsync</c>).</param>
    /// <param name="delete">Whether the write is a delete (else a set of v2).</param>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task ReadOfL2OvertakenByAWrite_KeepsNoOlderFailSafeCopy(bool batch, bool delete)
    {
        var (cache, _, l2, time) = Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this) + $":{batch}:{delete}";
        await cache.SetAsync(key, "v1");
        time.Advance(TimeSpan.FromSeconds(2)); // L1's copy has expired: the next read goes to L2

        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task read;
        if (batch)
        {
            l2.ReadHold = hold;
            read = cache.GetManyAsync<string>([key]).AsTask();
            await l2.ReadHeld.Task;
        }
        else
        {
            l2.GetHold = hold;
            read = cache.GetAsync<string>(key).AsTask();
            await l2.GetHeld.Task;
        }

        if (delete)
        {
            Assert.True(await cache.DeleteAsync(key));
        }
        else
        {
            await cache.SetAsync(key, "v2");
        }

        hold.SetResult();
        await read; // v1 or the write's outcome: the read was concurrent with the write
        l2.GetHold = null;
        l2.ReadHold = null;

        time.Advance(TimeSpan.FromSeconds(2));
        l2.Down = true;
        var after = await cache.GetAsync<string>(key);

        Assert.Equal(delete ? null : "v2", after.HasValue ? after.Value : null);
    }
}
