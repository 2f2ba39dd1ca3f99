using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Eager refresh (<see cref="MultiTierEntryOptions.EagerRefreshThreshold"/>) on a fake clock: a value read late in its
/// TTL is returned at once while one background load refreshes it in every tier; earlier reads, other types of load
/// and writes made meanwhile keep their own rules.
/// </summary>
public sealed class EagerRefreshTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    private static MultiTierEntryOptions Eager(TimeSpan? localTtl = null) => new() { Ttl = Ttl, LocalTtl = localTtl, EagerRefreshThreshold = 0.8 };

    /// <summary>A factory that counts its calls and, from the second call on, waits for <see cref="Release"/> before returning "v{n}".</summary>
    private sealed class GatedFactory
    {
        private int _calls;

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Func<Exception?> Failure { get; set; } = () => null;

        public int Calls => Volatile.Read(ref _calls);

        public async ValueTask<string> LoadAsync(CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _calls);
            if (n > 1)
            {
                await Release.Task.WaitAsync(cancellationToken);
            }

            return Failure() is { } e ? throw e : "v" + n;
        }
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task ReadLateInItsTtl_ReturnsTheValueAtOnce_AndOneBackgroundLoadRefreshesEveryTier()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var factory = new GatedFactory();
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));

        time.Advance(TimeSpan.FromMinutes(7.9)); // before 0.8 of the TTL: a plain hit
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));
        Assert.Equal(1, factory.Calls);

        time.Advance(TimeSpan.FromMinutes(0.6)); // 8.5 minutes old
        for (var i = 0; i < 100; i++)
        {
            var read = cache.GetOrSetAsync(key, factory.LoadAsync, Eager());
            Assert.True(read.IsCompletedSuccessfully, "an L1 hit does not wait for the refresh");
            Assert.Equal("v1", await read);
        }

        await TierTestKit.Eventually(() => factory.Calls == 2);
        factory.Release.SetResult();
        await TierTestKit.Eventually(() => l1.TryGet<string>(key, out var v) && v == "v2");
        Assert.Equal("v2", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.Equal(2, factory.Calls); // a hundred reads in the window, one refresh
        Assert.InRange(l1.GetRemainingTtl(key)!.Value, Ttl - TimeSpan.FromSeconds(1), Ttl);

        time.Advance(TimeSpan.FromMinutes(3)); // past the first value's expiry: the refreshed one is served
        Assert.Equal("v2", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));
        Assert.Equal(2, factory.Calls);
    }

    [Fact]
    public async Task ShorterLocalTtl_L1CopyEndingIsNotTheValueEnding_TheLowerTiersHitDecides()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var factory = new GatedFactory();
        factory.Release.SetResult();
        var options = Eager(localTtl: TimeSpan.FromMinutes(1));
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, options));

        time.Advance(TimeSpan.FromSeconds(55)); // the L1 copy's last seconds, the value's first minute
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, options));
        time.Advance(TimeSpan.FromSeconds(20)); // L1 copy gone: L2's hit has 8:45 left
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, options));
        await Task.Delay(50);
        Assert.Equal(1, factory.Calls);

        time.Advance(TimeSpan.FromMinutes(7.5)); // 8:45 old; the copy from 1:15 is gone, L2's hit has 1:15 left
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, options));
        await EventuallyAsync(async () => (await l2.Inner.GetAsync<string>(key)).Value == "v2");
        Assert.Equal(2, factory.Calls);
    }

    [Fact]
    public async Task RefreshFails_TheValueHeldIsServed_AndTheNextReadInTheWindowTriesAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var factory = new GatedFactory();
        factory.Release.SetResult();
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));

        factory.Failure = () => new InvalidOperationException("the database is down");
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));
        await TierTestKit.Eventually(() => factory.Calls == 2);
        await Task.Delay(50);
        Assert.True(l1.TryGet<string>(key, out var held) && held == "v1");

        factory.Failure = () => null;
        await EventuallyAsync(async () =>
        {
            Assert.StartsWith("v", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()), StringComparison.Ordinal);
            return l1.TryGet<string>(key, out var v) && v == "v3";
        });
    }

    [Fact]
    public async Task WriteWhileRefreshing_SupersedesIt_TheRefreshsValueIsNotStored()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var factory = new GatedFactory();
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));

        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));
        await TierTestKit.Eventually(() => factory.Calls == 2);
        await cache.SetAsync(key, "written", Eager());
        factory.Release.SetResult();
        await Task.Delay(100);

        Assert.True(l1.TryGet<string>(key, out var local) && local == "written");
        Assert.Equal("written", (await l2.Inner.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task WithoutThreshold_OrWithoutTtl_NoRefresh()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var factory = new GatedFactory();
        factory.Release.SetResult();
        var plain = TierTestKit.Key(this);
        var noTtl = TierTestKit.Key(this);
        Assert.Equal("v1", await cache.GetOrSetAsync(plain, factory.LoadAsync, new MultiTierEntryOptions { Ttl = Ttl }));
        Assert.Equal("v2", await cache.GetOrSetAsync(noTtl, factory.LoadAsync, new MultiTierEntryOptions { EagerRefreshThreshold = 0.5 }));

        time.Advance(TimeSpan.FromMinutes(9.5));
        Assert.Equal("v1", await cache.GetOrSetAsync(plain, factory.LoadAsync, new MultiTierEntryOptions { Ttl = Ttl }));
        Assert.Equal("v2", await cache.GetOrSetAsync(noTtl, factory.LoadAsync, new MultiTierEntryOptions { EagerRefreshThreshold = 0.5 }));
        await Task.Delay(50);
        Assert.Equal(2, factory.Calls);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.2)]
    [InlineData(double.NaN)]
    public async Task ThresholdOutsideZeroToOne_ThrowsNamingIt_BeforeTheFactoryRuns(double threshold)
    {
        var (cache, l1, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var calls = 0;
        var options = new MultiTierEntryOptions { Ttl = Ttl, EagerRefreshThreshold = threshold };

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await cache.GetOrSetAsync(key, _ => ValueTask.FromResult(++calls), options));
        Assert.Equal("EagerRefreshThreshold", error.ParamName);
        Assert.Contains("between 0 and 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, calls);
        Assert.False(l1.TryGet<int>(key, out _));

        await cache.SetAsync(key, 5, new MultiTierEntryOptions { Ttl = Ttl }); // an L1 hit checks them too
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await cache.GetOrSetAsync(key, _ => ValueTask.FromResult(++calls), options));
        var cacheOptions = new MultiTierCacheOptions { DefaultEntryOptions = options };
        cacheOptions.Tiers.Add(TierTestKit.Memory("L1"));
        Assert.Equal("EagerRefreshThreshold", Assert.Throws<ArgumentOutOfRangeException>(cacheOptions.Validate).ParamName);
    }

    /// <summary>A batch factory that records the keys of each call and returns "{key}@{call}".</summary>
    private sealed class RecordingBatchFactory
    {
        public System.Collections.Concurrent.ConcurrentQueue<string[]> Calls { get; } = new();

        public ValueTask<IReadOnlyDictionary<string, string>> LoadAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
        {
            Calls.Enqueue([.. keys]);
            var call = Calls.Count;
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, k => $"{k}@{call}"));
        }
    }

    [Fact]
    public async Task Batch_KeysLateInTheirTtl_ReturnedAtOnce_OneBackgroundFactoryCallRefreshesThem_MissingKeysLoadedAsUsual()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var a = TierTestKit.Key(this);
        var b = TierTestKit.Key(this);
        var c = TierTestKit.Key(this);
        var late = TierTestKit.Key(this);
        var factory = new RecordingBatchFactory();
        var first = await cache.GetOrSetManyAsync([a, b, c], factory.LoadAsync, Eager());
        Assert.Equal($"{a}@1", first[a]);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal($"{late}@2", (await cache.GetOrSetManyAsync([late], factory.LoadAsync, Eager()))[late]); // 5 minutes younger

        time.Advance(TimeSpan.FromMinutes(3.5)); // a, b, c are 8.5 minutes old; late 3.5
        var read = cache.GetOrSetManyAsync([a, b, late, c, a], factory.LoadAsync, Eager());
        Assert.True(read.IsCompletedSuccessfully, "L1 hits do not wait for the refresh");
        var values = await read;
        Assert.Equal([$"{a}@1", $"{b}@1", $"{c}@1", $"{late}@2"], new[] { values[a], values[b], values[c], values[late] });

        await TierTestKit.Eventually(() => l1.TryGet<string>(c, out var v) && v == $"{c}@3");
        Assert.Equal(3, factory.Calls.Count);
        Assert.Equal(new[] { a, b, c }.Order(), factory.Calls.Last().Order()); // one call, the due keys only, each once
        Assert.Equal($"{a}@3", (await l2.Inner.GetAsync<string>(a)).Value);
        Assert.True(l1.TryGet<string>(late, out var young) && young == $"{late}@2");

        // A batch with a missing key and a due one: the missing key is loaded for the caller, the due one behind it.
        var missing = TierTestKit.Key(this);
        time.Advance(TimeSpan.FromMinutes(5)); // late is now 8.5 minutes old; a, b, c 5
        var mixed = await cache.GetOrSetManyAsync([missing, late, a], factory.LoadAsync, Eager());
        Assert.Equal($"{late}@2", mixed[late]);
        Assert.StartsWith(missing + "@", mixed[missing], StringComparison.Ordinal);
        await TierTestKit.Eventually(() => factory.Calls.Count == 5);
        Assert.Contains(factory.Calls, keys => keys.SequenceEqual([missing]));
        Assert.Contains(factory.Calls, keys => keys.SequenceEqual([late]));
        await TierTestKit.Eventually(() => l1.TryGet<string>(late, out var v) && v != $"{late}@2");
    }

    [Fact]
    public async Task WriteBehind_RefreshIsQueuedLikeASet_L1AtOnce_LowerTiersAfterTheFlush()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(o => o.WriteStrategy = WriteStrategy.WriteBehind, time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var batchKey = TierTestKit.Key(this);
        var factory = new GatedFactory();
        factory.Release.SetResult();
        var batchCalls = 0;
        ValueTask<IReadOnlyDictionary<string, string>> LoadMany(IReadOnlyList<string> keys, CancellationToken _)
        {
            var n = Interlocked.Increment(ref batchCalls);
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, _ => "b" + n));
        }

        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));
        Assert.Equal("b1", (await cache.GetOrSetManyAsync([batchKey], LoadMany, Eager()))[batchKey]);
        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);

        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v1", await cache.GetOrSetAsync(key, factory.LoadAsync, Eager()));
        Assert.Equal("b1", (await cache.GetOrSetManyAsync([batchKey], LoadMany, Eager()))[batchKey]);
        await TierTestKit.Eventually(() => l1.TryGet<string>(key, out var v) && v == "v2" && l1.TryGet<string>(batchKey, out var b) && b == "b2");

        Assert.True((await TierTestKit.FlushOnFakeClockAsync(cache, time)).Completed);
        Assert.Equal("v2", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.Equal("b2", (await l2.Inner.GetAsync<string>(batchKey)).Value);
    }
}
