using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// An eager refresh caught storing its value: a key loaded once ("v1", or "b1" in a batch) into an L1 over a faulty L2
/// on a fake clock, read again in its refresh window, and the refresh's L2 write ("v2" or "b2") held at the L2's gate.
/// </summary>
/// <param name="Cache">The multi-tier cache.</param>
/// <param name="L1">Its L1.</param>
/// <param name="L2">Its L2.</param>
/// <param name="Key">The key refreshed.</param>
/// <param name="Gate">The gate the refresh's L2 write waits at; set it to let the write through.</param>
/// <param name="RefreshWritten">Completes once the refresh's value is in L2.</param>
internal sealed record HeldRefresh(MultiTierCache Cache, InMemoryTier L1, FaultyTier L2, string Key, TaskCompletionSource Gate, Task RefreshWritten) : IAsyncDisposable
{
    /// <summary>Loads the key, moves the clock into its refresh window, reads it again and waits for the refresh's L2 write to reach the gate.</summary>
    /// <param name="test">The test (names the key).</param>
    /// <param name="options">Eager refresh options with a 10-minute TTL and a threshold under 0.9 (the clock moves 9 minutes).</param>
    /// <param name="batch">Whether the loads are batch loads (<see cref="MultiTierCache.GetOrSetManyAsync{T}"/>).</param>
    /// <param name="holdEveryWrite">Whether every later write of the key waits at the gate too, not only the refresh's.</param>
    /// <param name="name">The test's name.</param>
    public static async Task<HeldRefresh> StartAsync(object test, MultiTierEntryOptions options, bool batch = false, bool holdEveryWrite = false, [CallerMemberName] string name = "")
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(time: time);
        var key = TierTestKit.Key(test, name);
        var loader = new CountingLoader(batch ? "b" : "v");
        async Task<string> ReadAsync() => batch ? (await cache.GetOrSetManyAsync([key], loader.LoadMany, options))[key] : await cache.GetOrSetAsync(key, loader.Load, options);

        Assert.Equal(batch ? "b1" : "v1", await ReadAsync());
        var (gate, reached) = l2.HoldCallsOn(key, firstOnly: !holdEveryWrite);
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var refreshed = batch ? "b2" : "v2";
        l2.OnWrite = (k, v) =>
        {
            if (k == key && (string?)v == refreshed)
            {
                written.TrySetResult();
            }
        };

        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(batch ? "b1" : "v1", await ReadAsync()); // starts the refresh
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the refresh has its value and is writing it to L2
        return new HeldRefresh(cache, l1, l2, key, gate, written.Task);
    }

    public ValueTask DisposeAsync() => Cache.DisposeAsync();
}
