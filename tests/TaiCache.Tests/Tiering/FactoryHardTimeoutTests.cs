using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary><see cref="MultiTierEntryOptions.FactoryHardTimeout"/>: a factory that never returns no longer holds its key's load for good.</summary>
public sealed class FactoryHardTimeoutTests
{
    private static readonly MultiTierEntryOptions Hard = new() { FactoryHardTimeout = TimeSpan.FromMilliseconds(150) };

    [Fact]
    public async Task GetOrSetAsync_FactoryPastItsHardTimeout_IsCancelledAndAbandoned_NextCallLoadsAgain()
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var wedged = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);

        var error = await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, ct =>
        {
            ct.Register(cancelled.SetResult);
            return new ValueTask<string>(wedged.Task); // ignores its token, as a stuck driver call does
        }, Hard).AsTask());

        Assert.Contains("hard timeout", error.Message, StringComparison.Ordinal);
        Assert.Equal(key, error.Key);
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the factory was told
        Assert.Equal("fresh", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("fresh"), Hard));

        // The abandoned factory's late value is never stored over the newer one.
        wedged.SetResult("late");
        await Task.Delay(100);
        Assert.True(l1.TryGet<string>(key, out var held));
        Assert.Equal("fresh", held);
        Assert.Equal("fresh", (await cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task GetOrSetAsync_JoinerOfAHandedOffLoad_GetsTheTimeoutWhenTheHardTimeoutPasses_NotAnEndlessWait()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var calls = 0;
        // The hard timeout well after the soft one: the patient caller below must join while the load still runs (with
        // 250 ms between them, a late continuation on a loaded machine found it abandoned and started a load of its own).
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(50), FactoryHardTimeout = TimeSpan.FromSeconds(3) };
        ValueTask<string> Never(CancellationToken _)
        {
            Interlocked.Increment(ref calls);
            return new ValueTask<string>(new TaskCompletionSource<string>().Task);
        }

        var soft = await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetAsync(key, Never, options).AsTask());
        Assert.Contains("hard timeout", soft.Message, StringComparison.Ordinal); // says how long it may still run

        // A patient caller joins the load still running; the hard timeout ends it for the joiner too.
        var patient = cache.GetOrSetAsync(key, Never, new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromSeconds(60) }).AsTask();
        var abandoned = await Assert.ThrowsAsync<CacheTimeoutException>(() => patient.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("will not be stored", abandoned.Message, StringComparison.Ordinal);
        Assert.Equal(1, calls);

        Assert.Equal("second", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("second"), options));
    }

    [Fact]
    public async Task GetOrSetAsync_HardTimeoutWithAStaleValue_ServesTheStaleValue()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromMilliseconds(50), AllowStaleOnFailure = true, FactoryHardTimeout = TimeSpan.FromMilliseconds(100) };
        await cache.SetAsync(key, "old", options);
        await Task.Delay(120);

        Assert.Equal("old", await cache.GetOrSetAsync(key, _ => new ValueTask<string>(new TaskCompletionSource<string>().Task), options));
    }

    [Fact]
    public async Task GetOrSetManyAsync_BatchFactoryPastItsHardTimeout_IsAbandoned_AndItsKeysLoadAgain()
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var keys = new[] { TierTestKit.Key(this), TierTestKit.Key(this) };
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var wedged = new TaskCompletionSource<IReadOnlyDictionary<string, int>>(TaskCreationOptions.RunContinuationsAsynchronously);

        var error = await Assert.ThrowsAsync<CacheTimeoutException>(() => cache.GetOrSetManyAsync(keys, (_, ct) =>
        {
            ct.Register(cancelled.SetResult);
            return new ValueTask<IReadOnlyDictionary<string, int>>(wedged.Task);
        }, Hard).AsTask());

        Assert.Contains("2 keys", error.Message, StringComparison.Ordinal);
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // A single-key caller is not stuck behind the abandoned batch, and a new batch runs its own factory.
        Assert.Equal(1, await cache.GetOrSetAsync(keys[0], _ => new ValueTask<int>(1), Hard));
        var again = await cache.GetOrSetManyAsync(keys, (missing, _) => new ValueTask<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, _ => 2)), Hard);
        Assert.Equal(1, again[keys[0]]);
        Assert.Equal(2, again[keys[1]]);

        wedged.SetResult(keys.ToDictionary(k => k, _ => 99));
        await Task.Delay(100);
        Assert.All(keys, k => Assert.NotEqual(99, l1.TryGet<int>(k, out var v) ? v : 0));
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(-5, null)]
    [InlineData(100, 200)]
    public void Validate_HardTimeoutNotPositiveOrBelowFactoryTimeout_NamesTheOption(int hardMs, int? softMs)
    {
        var options = new MultiTierEntryOptions
        {
            FactoryHardTimeout = TimeSpan.FromMilliseconds(hardMs),
            FactoryTimeout = softMs is { } s ? TimeSpan.FromMilliseconds(s) : null,
        };

        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(nameof(MultiTierEntryOptions.FactoryHardTimeout), error.ParamName);
    }

    [Fact]
    public async Task GetOrSetAsync_BadPerCallOptions_AreRefusedBeforeTheFactoryRuns()
    {
        var (cache, _, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var ran = false;
        ValueTask<int> Factory(CancellationToken _)
        {
            ran = true;
            return new ValueTask<int>(1);
        }

        var ttl = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cache.GetOrSetAsync(key, Factory, new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(-1) }).AsTask());
        var timeout = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cache.GetOrSetAsync(key, Factory, new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(-5) }).AsTask());
        var batch = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cache.GetOrSetManyAsync([key], (_, _) => new ValueTask<IReadOnlyDictionary<string, int>>(new Dictionary<string, int>()), new MultiTierEntryOptions { FactoryHardTimeout = TimeSpan.Zero }).AsTask());

        Assert.Contains("Ttl", ttl.Message, StringComparison.Ordinal);
        Assert.Equal(nameof(MultiTierEntryOptions.FactoryTimeout), timeout.ParamName);
        Assert.Equal(nameof(MultiTierEntryOptions.FactoryHardTimeout), batch.ParamName);
        Assert.False(ran);
        Assert.Equal(0, l2.GetCalls);
    }
}
