using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>Review of commit 03ac43e (SupersedeGate): a user's write racing an eager refresh's store.</summary>
public sealed class EagerRefreshWriteOrderTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    private static MultiTierEntryOptions Eager(bool stale = false) =>
        new() { Ttl = Ttl, EagerRefreshThreshold = 0.8, AllowStaleOnFailure = stale };

    // ---- 1. a delete made while the refresh stores: the refresh's fail-safe copy outlives the delete -------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WriteBehindFullQueue_DeleteWhileRefreshStores_FailSafeDoesNotServeTheDeletedKey(bool many)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(
            o =>
            {
                o.WriteStrategy = WriteStrategy.WriteBehind;
                o.WriteBehind.Capacity = 1;
                o.WriteBehind.FullPolicy = WriteBehindFullPolicy.FallBackToWriteThrough;
                o.WriteBehind.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
                o.WriteBehind.RetryMaxDelay = TimeSpan.FromMilliseconds(100);
            },
            time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var loader = new CountingLoader();
        var options = Eager(stale: true);
        Assert.Equal("v1", await cache.GetOrSetAsync(key, loader.Load, options));
        await TierTestKit.FlushOnFakeClockAsync(cache, time);

        // Every L2 write from here waits at the gate; two fillers fill the queue (capacity 1), so the refresh's set
        // is carried through to L2 (FallBackToWriteThrough), where it waits.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.GateWhen = k =>
        {
            if (k == key)
            {
                reached.TrySetResult();
            }

            return true;
        };
        l2.Gate = gate;
        try
        {
        // Fillers until two in a row are carried through (the queue is full, the flusher held at the gate).
        var fillers = new List<Task>();
        for (var i = 0; i < 50 && !(fillers.Count >= 2 && !fillers[^1].IsCompleted && !fillers[^2].IsCompleted); i++)
        {
            fillers.Add(cache.SetAsync(key + ":f" + i, "x").AsTask());
            await Task.Delay(20);
        }

        Assert.False(fillers[^1].IsCompleted, "the queue did not fill");

        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v1", await cache.GetOrSetAsync(key, loader.Load, options)); // starts the refresh
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the refresh's store is under way

        var deleting = many ? cache.DeleteManyAsync([key]).AsTask() : cache.DeleteAsync(key).AsTask().ContinueWith(t => t.Result ? 1L : 0L, TaskScheduler.Default);
        await Task.Delay(100);
        Assert.False(deleting.IsCompleted, "the delete did not wait for the refresh's store");

        gate.SetResult();
        await deleting.WaitAsync(TimeSpan.FromSeconds(20));
        await Task.WhenAll(fillers).WaitAsync(TimeSpan.FromSeconds(20));
        await TierTestKit.FlushOnFakeClockAsync(cache, time);
        Assert.False((await cache.GetAsync<string>(key)).HasValue, "the deleted key is read back");

        // The source fails: a fail-safe read must not bring back the refreshed value of a key deleted after it.
        string? served = null;
        try
        {
            served = await cache.GetOrSetAsync<string>(key, static _ => throw new InvalidOperationException("db down"), options);
        }
        catch (InvalidOperationException)
        {
        }

        Assert.True(served is null, $"GetOrSetAsync served '{served}' from fail-safe for a key deleted after the refresh stored it");
        }
        finally
        {
            gate.TrySetResult();
            await TierTestKit.FlushOnFakeClockAsync(cache, time);
        }
    }

    // ---- 2. a batch refresh that fails after it began some stores: the writers waiting on them ----------------

    private sealed class TrapDictionary(Dictionary<string, string> inner, Action<string> onSecondLookup) : IReadOnlyDictionary<string, string>
    {
        private string? _first;

        public string this[string key] => inner[key];

        public IEnumerable<string> Keys => inner.Keys;

        public IEnumerable<string> Values => inner.Values;

        public int Count => inner.Count;

        public bool ContainsKey(string key) => inner.ContainsKey(key);

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => inner.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
        {
            if (_first is null)
            {
                _first = key;
                return inner.TryGetValue(key, out value);
            }

            onSecondLookup(_first);
            throw new InvalidOperationException("the factory's dictionary failed");
        }
    }

    [Fact]
    public async Task BatchRefresh_FailsAfterBeginningAStore_AWriterWaitingForThatStoreIsReleased()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var keys = new[] { TierTestKit.Key(this) + ":a", TierTestKit.Key(this) + ":b" };
        var calls = 0;
        Task? setting = null;
        var setStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<IReadOnlyDictionary<string, string>> Load(IReadOnlyList<string> ks, CancellationToken _)
        {
            var values = ks.ToDictionary(k => k, k => "v" + calls, StringComparer.Ordinal);
            if (Interlocked.Increment(ref calls) == 1)
            {
                return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(values);
            }

            // The refresh: its first key's store begins, then a user sets that key, then the batch fails.
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new TrapDictionary(values, first =>
            {
                setting = cache.SetAsync(first, "written").AsTask();
                setStarted.TrySetResult();
            }));
        }

        await cache.GetOrSetManyAsync(keys, Load, Eager());
        time.Advance(TimeSpan.FromMinutes(9));
        await cache.GetOrSetManyAsync(keys, Load, Eager()); // starts the batch refresh
        await setStarted.Task.WaitAsync(TimeSpan.FromSeconds(20));

        var finished = await Task.WhenAny(setting!, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(ReferenceEquals(finished, setting), "SetAsync still waits, 5 s after the batch refresh failed, for a store that never completes");
    }

    // ---- 3. cancellation / disposal while a writer waits ------------------------------------------------------

    [Fact]
    public async Task SetCancelledWhileWaitingForTheRefreshStore_LeavesTheRefreshedValue_NothingHalfWritten()
    {
        await using var held = await HeldRefresh.StartAsync(this, Eager(), holdEveryWrite: true);
        var (cache, l1, l2, key, gate) = (held.Cache, held.L1, held.L2, held.Key, held.Gate);

        using var cts = new CancellationTokenSource();
        var setting = cache.SetAsync(key, "written", Eager(), cts.Token).AsTask();
        await Task.Delay(50);
        Assert.False(setting.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => setting.WaitAsync(TimeSpan.FromSeconds(20)));

        l2.Gate = null;
        gate.SetResult();
        await TierTestKit.Eventually(() => l1.TryGet<string>(key, out var v) && v == "v2");
        Assert.Equal("v2", (await l2.Inner.GetAsync<string>(key)).Value);

        // The next write is not held up by anything the cancelled one left.
        await cache.SetAsync(key, "later", Eager()).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("later", (await l2.Inner.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task DisposeWhileAWriterWaitsForTheRefreshStore_TheWriterEnds()
    {
        var held = await HeldRefresh.StartAsync(this, Eager(), holdEveryWrite: true);
        var (cache, key, gate) = (held.Cache, held.Key, held.Gate);

        var setting = cache.SetAsync(key, "written", Eager()).AsTask();
        var disposing = cache.DisposeAsync().AsTask();
        await disposing.WaitAsync(TimeSpan.FromSeconds(20));
        gate.SetResult();
        var finished = await Task.WhenAny(setting, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(setting, finished);
        _ = setting.Exception;
    }

    // ---- 4. hot path ----------------------------------------------------------------------------------------

    [Fact]
    public async Task SetAsync_NoRefresh_AllocatesNoMoreThanTheL1WriteItself()
    {
        var l1 = TierTestKit.Memory("L1");
        var options = new MultiTierCacheOptions();
        options.Tiers.Add(l1);
        await using var cache = new MultiTierCache(options);
        var key = TierTestKit.Key(this);
        const string value = "value";
        var direct = TierTestKit.Memory("direct");
        for (var i = 0; i < 20; i++)
        {
            await cache.SetAsync(key, value);
            direct.Set(key, value, null);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var allSync = true;
        for (var i = 0; i < 100; i++)
        {
#pragma warning disable CA2012
            var t = cache.SetAsync(key, value);
#pragma warning restore CA2012
            allSync &= t.IsCompletedSuccessfully;
            await t;
        }

        var cacheBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            direct.Set(key, value, null);
        }

        var directBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allSync);
        Assert.True(cacheBytes <= directBytes, $"100 SetAsync allocated {cacheBytes} B, 100 InMemoryTier.Set {directBytes} B");
    }

    [Fact]
    public async Task L1Hit_WhileTheKeysRefreshRuns_AllocatesNothing()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var options = Eager();
        Func<int, CancellationToken, ValueTask<string>> factory = async (_, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                return "v1";
            }

            started.TrySetResult();
            await release.Task;
            return "v2";
        };
        Assert.Equal("v1", await cache.GetOrSetAsync(key, 0, factory, options));
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("v1", await cache.GetOrSetAsync(key, 0, factory, options));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(20));
        for (var i = 0; i < 10; i++)
        {
            _ = await cache.GetOrSetAsync(key, 0, factory, options);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var allSync = true;
        for (var i = 0; i < 100; i++)
        {
#pragma warning disable CA2012
            var t = cache.GetOrSetAsync(key, 0, factory, options);
#pragma warning restore CA2012
            allSync &= t.IsCompletedSuccessfully;
        }

        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        release.SetResult();
        Assert.True(allSync);
        Assert.Equal(0, bytes);
    }
    // ---- 5. a refresh that starts while a set is under way (after the set looked for a load to supersede) ----------

    [Fact]
    public async Task RefreshStartedWhileASetIsWritingL2_DoesNotOverwriteTheSetAfterItCompletes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var loader = new CountingLoader(holdAfterFirst: true);
        Assert.Equal("v1", await cache.GetOrSetAsync(key, loader.Load, Eager()));
        time.Advance(TimeSpan.FromMinutes(9));

        // The set finds no load to supersede, and writes L2 first (held here); L1 still holds v1, in its window.
        var (gate, reached) = l2.HoldCallsOn(key);
        var setting = cache.SetAsync(key, "written", Eager()).AsTask();
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal("v1", await cache.GetOrSetAsync(key, loader.Load, Eager())); // a read meanwhile starts a refresh
        await loader.RefreshStarted.WaitAsync(TimeSpan.FromSeconds(20));

        l2.Gate = null;
        gate.SetResult();
        await setting.WaitAsync(TimeSpan.FromSeconds(20)); // the set has landed in every tier
        Assert.True(l1.TryGet<string>(key, out var afterSet) && afterSet == "written");

        loader.Release(); // the refresh, begun before the set landed, finishes after it
        await TierTestKit.Eventually(() => loader.Calls == 2);
        await Task.Delay(200);

        Assert.Equal("written", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.True(l1.TryGet<string>(key, out var local) && local == "written", $"L1 holds '{local}' after a completed SetAsync");
    }

    /// <summary>
    /// A set whose L2 write is done (not yet answered) before a refresh of the key starts, and whose L1 write comes after
    /// the refresh's whole store: the refresh sees the write under way and stores nothing, so the set's value stays in
    /// L2 and lands in L1 (it replaced the set's value in L2, and the set's L1 write then yielded to it).
    /// </summary>
    [Fact]
    public async Task RefreshStartedWhileASetsL2WriteAwaitsItsAnswer_StoresNothing_TheSetWinsInEveryTier()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, l1, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var loader = new CountingLoader();
        Assert.Equal("v1", await cache.GetOrSetAsync(key, loader.Load, Eager()));
        time.Advance(TimeSpan.FromMinutes(9));

        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        l2.WriteHold = answer;
        var setting = cache.SetAsync(key, "written", Eager()).AsTask();
        await l2.WriteHeld.Task.WaitAsync(TimeSpan.FromSeconds(20)); // "written" is in L2, the set not answered yet
        l2.WriteHold = null;

        Assert.Equal("v1", await cache.GetOrSetAsync(key, loader.Load, Eager())); // L1 still has v1, in its window: a refresh
        await TierTestKit.Eventually(() => loader.Calls == 2);
        await Task.Delay(200); // the refresh's store, had it been made, is done by now

        answer.SetResult();
        await setting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("written", (await l2.Inner.GetAsync<string>(key)).Value);
        Assert.True(l1.TryGet<string>(key, out var local) && local == "written", $"L1 holds '{local}'");
        Assert.Equal("written", await cache.GetOrSetAsync(key, loader.Load, Eager()));
    }
}
