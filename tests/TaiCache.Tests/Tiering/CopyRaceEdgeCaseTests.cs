namespace TaiCache.Tests.Tiering;

/// <summary>
/// After <c>await DeleteAsync(k)</c> has returned, no read on this instance returns the deleted value: not even when a
/// read that found it in L3 was copying it up into L2 as the delete ran.
/// </summary>
public sealed class CopyRaceEdgeCaseTests
{
    [Fact]
    public async Task GetAsync_CopyFromL3IntoL2_OvertakenByDelete_IsTakenBack_TheDeleteStands()
    {
        var (cache, _, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, "v1");

        // A read misses L2, finds v1 in L3, and its copy into L2 is on its way (held before it reaches L2).
        var (gate, reached) = l2.HoldCallsOn(key, firstOnly: true);
        var read = cache.GetAsync<string>(key).AsTask();
        await reached.Task;

        // The key is deleted, and the delete returns.
        Assert.True(await cache.DeleteAsync(key));
        gate.SetResult();
        await read; // v1: the read was concurrent with the delete

        var after = await cache.GetAsync<string>(key);
        Assert.False(after.HasValue, $"the deleted value came back: {(after.HasValue ? after.Value : "")} (L2 holds it: {(await l2.Inner.GetAsync<string>(key)).HasValue})");
    }

    [Fact]
    public async Task GetManyAsync_CopyFromL3IntoL2_OvertakenByDelete_IsTakenBack_TheDeleteStands()
    {
        var (cache, _, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, "v1");

        var (gate, reached) = l2.HoldCallsOn(key, firstOnly: true);
        var read = cache.GetManyAsync<string>([key]).AsTask();
        await reached.Task;

        Assert.True(await cache.DeleteAsync(key));
        gate.SetResult();
        await read;

        var after = await cache.GetAsync<string>(key);
        Assert.False(after.HasValue, $"the deleted value came back: {(after.HasValue ? after.Value : "")} (L2 holds it: {(await l2.Inner.GetAsync<string>(key)).HasValue})");
    }
}
