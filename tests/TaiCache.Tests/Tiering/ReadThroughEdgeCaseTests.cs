using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Edge cases of MultiTierCache read-through: stampede protection, factory timeouts, batch read-through, fail-safe and
/// the circuit breaker.
/// </summary>
public sealed class ReadThroughEdgeCaseTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static int InFlight(MultiTierCache cache) =>
        ((ICollection)typeof(MultiTierCache).GetField("_inflight", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(cache)!).Count;

    /// <summary>
    /// The leader of a load gives up (its token) while the factory runs; the factory then fails. Nobody awaits the
    /// leader's load any more, and its failure is still observed: nothing reaches <see cref="TaskScheduler.UnobservedTaskException"/>.
    /// </summary>
    [Fact]
    public async Task GetOrSetAsync_LeaderCancelledThenFactoryFails_NoUnobservedTaskException()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var marker = $"unobserved-{Guid.NewGuid():N}";

        var unobserved = await TierTestKit.CountUnobservedAsync(marker, async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                await LeadCancelAndFailAsync(cache, TierTestKit.Key(this) + i, marker);
            }
        });

        Assert.Equal(0, unobserved);
        Assert.Equal(0, InFlight(cache));
    }

    private static async Task LeadCancelAndFailAsync(MultiTierCache cache, string key, string marker)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cts = new CancellationTokenSource();
        var leader = cache.GetOrSetAsync<int>(key, async _ =>
        {
            started.TrySetResult();
            await release.Task;
            throw new InvalidOperationException(marker);
        }, cancellationToken: cts.Token).AsTask();
        await started.Task.WaitAsync(Wait);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader.WaitAsync(Wait));
        release.SetResult();
        await TierTestKit.Eventually(() => InFlight(cache) == 0);
    }

    /// <summary>
    /// A value kept for fail-safe does not outlive a newer write of its key: a set whose options do not ask for
    /// fail-safe forgets the older fail-safe copy (as a delete does), so a later fail-safe read never serves a value
    /// the application has since overwritten.
    /// </summary>
    [Fact]
    public async Task FailSafe_SetWithoutFailSafeAfterOne_StaleReadDoesNotServeTheOverwrittenValue()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var failSafe = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(1), AllowStaleOnFailure = true };

        await cache.SetAsync(key, "v1", failSafe);
        await cache.SetAsync(key, "v2", TimeSpan.FromMinutes(1)); // the newest write, without fail-safe
        time.Advance(TimeSpan.FromMinutes(2)); // both tiers' copies expired
        l2.Down = true;

        var read = await Record.ExceptionAsync(async () =>
        {
            var value = await cache.GetOrSetAsync<string>(key, _ => throw new InvalidOperationException("db down"), failSafe);
            Assert.NotEqual("v1", value); // "v2" (the last write) or the factory's failure; never the overwritten value
        });
        Assert.True(read is null or InvalidOperationException { Message: "db down" }, $"got {read}");
    }

    /// <summary>
    /// A batch with a <see cref="MultiTierEntryOptions.FactoryTimeout"/> joins a single key's load whose factory fails
    /// with its own <see cref="TimeoutException"/> (a driver's): the batch gets that exception, as a single-key joiner
    /// does, not its own factory timeout, which is far off.
    /// </summary>
    [Fact]
    public async Task GetOrSetManyAsync_JoinedLoadFailsWithItsOwnTimeoutException_ExceptionReachesTheBatchUnchanged()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var single = cache.GetOrSetAsync<string>(key, async _ =>
        {
            started.TrySetResult();
            await release.Task;
            throw new TimeoutException("driver timeout");
        }).AsTask();
        await started.Task.WaitAsync(Wait);

        var batchFactoryCalls = 0;
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromMinutes(1) };
        var batch = cache.GetOrSetManyAsync<string>([key], (keys, _) =>
        {
            Interlocked.Increment(ref batchFactoryCalls);
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, _ => "batch"));
        }, options).AsTask();
        var joiner = cache.GetOrSetAsync<string>(key, _ => new ValueTask<string>("joiner"), options).AsTask();
        release.SetResult();

        Assert.Equal("driver timeout", (await Assert.ThrowsAsync<TimeoutException>(() => single.WaitAsync(Wait))).Message);
        Assert.Equal("driver timeout", (await Assert.ThrowsAsync<TimeoutException>(() => joiner.WaitAsync(Wait))).Message);
        Assert.Equal(0, batchFactoryCalls); // it joined the load
        var thrown = await Record.ExceptionAsync(() => batch.WaitAsync(Wait));
        Assert.True(thrown is TimeoutException { Message: "driver timeout" }, $"the batch got {thrown}");
    }

    /// <summary>
    /// A read-through finds the key in L3 and copies it up into L2; a delete of the key runs (and returns) between L3's
    /// answer and the copy. The copy into L2 yields to the delete (L1's write marks, the load's superseded flight, a
    /// write under way), so the deleted value is not read back from L2 by the next caller.
    /// </summary>
    [Fact]
    public async Task GetOrSetAsync_DeleteWhileL3HitIsOnItsWayUp_DeletedValueNotResurrectedInL2()
    {
        var (cache, _, l2, l3) = TierTestKit.Build(withL3: true);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        await l3!.Inner.SetAsync(key, "old");
        l3.GetHold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var read = cache.GetOrSetAsync<string>(key, _ => new ValueTask<string>("factory")).AsTask();
        await l3.GetHeld.Task.WaitAsync(Wait); // L3 has read "old"; its answer is held
        Assert.True(await cache.DeleteAsync(key));
        l3.GetHold.SetResult();
        Assert.Equal("old", await read.WaitAsync(Wait)); // the read began before the delete: it may return what it read

        Assert.False((await l2.Inner.GetAsync<string>(key)).HasValue, "the deleted value came back into L2");
        var next = await cache.GetOrSetAsync<string>(key, _ => new ValueTask<string>("factory"));
        Assert.NotEqual("old", next);
    }

    /// <summary>
    /// Hits of a batch read are copied into L1 capped at what the value has left in L2, also when one L2 value is
    /// unreadable and the batch is read again key by key (those reads once dropped the hits' expiry: no cap at all).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GetManyAsync_HitsCopiedIntoL1CappedAtTheirRemainingTtl(bool withAnUnreadableValue)
    {
        var prefix = $"{nameof(ReadThroughEdgeCaseTests)}:{Guid.NewGuid():N}:";
        await using var l2 = await RedisCache.ConnectAsync(redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix });
        var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000 });
        var options = new MultiTierCacheOptions { OwnsTiers = false };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        await using var cache = new MultiTierCache(options);
        await l2.SetAsync("a", "value a", TimeSpan.FromSeconds(30));
        if (withAnUnreadableValue)
        {
            await l2.Multiplexer.GetDatabase().StringSetAsync(prefix + "foreign", "written by another client");
        }

        var found = await cache.GetManyAsync<string>(["a", "foreign"]);

        Assert.Equal("value a", found["a"]);
        var left = l1.GetRemainingTtl("a");
        Assert.True(left is { } l && l > TimeSpan.Zero && l <= TimeSpan.FromSeconds(30), $"L1's copy of a has {(left == Timeout.InfiniteTimeSpan ? "no expiry" : left?.ToString())} left; L2's value has at most 30 s");
    }

    /// <summary>
    /// "A slow, dead or unreachable remote tier costs at most TierTimeout per call": a batch whose L2 read timed out
    /// does not read L2 again in its re-read (made when another load stored values meanwhile).
    /// </summary>
    [Fact]
    public async Task GetOrSetManyAsync_L2BatchReadTimedOut_L2NotWaitedOnAgainInTheSameCall()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.TierTimeout = TimeSpan.FromSeconds(1);
            o.CircuitBreakerFailureThreshold = 100;
        }, time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var other = TierTestKit.Key(this);
        l2.ReadHold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var batch = cache.GetOrSetManyAsync<string>([key], (keys, _) =>
            ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, _ => "batch"))).AsTask();
        await l2.ReadHeld.Task.WaitAsync(Wait); // L2's batch read is stalled
        Assert.Equal("o", await cache.GetOrSetAsync(other, _ => new ValueTask<string>("o"))); // another load stores meanwhile

        l2.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // L2 now stalls every call
        time.Advance(TimeSpan.FromSeconds(1)); // the batch's one TierTimeout
        var done = await Task.WhenAny(batch, Task.Delay(TimeSpan.FromSeconds(3))) == batch;
        var getManyCalls = l2.GetManyCalls;

        l2.Gate.SetResult();
        l2.ReadHold.SetResult();
        for (var i = 0; i < 5 && !batch.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(batch, Task.Delay(100));
        }

        Assert.True(done, $"the batch was still waiting on L2 after its TierTimeout (L2 batch reads: {getManyCalls})");
        Assert.Equal("batch", (await batch.WaitAsync(Wait))[key]);
    }

    [Fact]
    public async Task GetOrSetAsync_LeaderCancelled_JoinersAndLaterCallersGetTheValue_FactoryNotCancelled()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        var factoryToken = CancellationToken.None;
        Func<CancellationToken, ValueTask<string>> factory = async ct =>
        {
            Interlocked.Increment(ref runs);
            factoryToken = ct;
            started.TrySetResult();
            await release.Task;
            return "loaded";
        };
        using var cts = new CancellationTokenSource();
        var leader = cache.GetOrSetAsync(key, factory, cancellationToken: cts.Token).AsTask();
        await started.Task.WaitAsync(Wait);
        var joiner = cache.GetOrSetAsync(key, factory).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader.WaitAsync(Wait));
        var later = cache.GetOrSetAsync(key, factory).AsTask();
        Assert.False(factoryToken.IsCancellationRequested);
        release.SetResult();

        Assert.Equal("loaded", await joiner.WaitAsync(Wait));
        Assert.Equal("loaded", await later.WaitAsync(Wait));
        Assert.Equal(1, runs);
        Assert.Equal(0, InFlight(cache));
    }

    [Fact]
    public async Task GetOrSetAsync_FactoryThrowsSynchronously_AllWaitersGetTheSameType_NotCached_InFlightEmpties()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var thrown = await Assert.ThrowsAsync<ArgumentException>(() => cache.GetOrSetAsync<string>(key, _ => throw new ArgumentException("sync")).AsTask());
        Assert.Equal("sync", thrown.Message);
        Assert.Equal(0, InFlight(cache));
        Assert.Equal("ok", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("ok")));
    }

    [Fact]
    public async Task GetOrSetAsync_NullReferenceValue_IsCached_FactoryRunsOnce()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var runs = 0;
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await cache.GetOrSetAsync<string?>(key, _ =>
            {
                Interlocked.Increment(ref runs);
                return new ValueTask<string?>((string?)null);
            }));
        }

        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task FailSafe_StaleNotServedAfterFailSafeMaxDuration()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var options = new MultiTierEntryOptions { Ttl = TimeSpan.FromMinutes(1), AllowStaleOnFailure = true, FailSafeMaxDuration = TimeSpan.FromMinutes(10) };
        Assert.Equal("v1", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("v1"), options));
        l2.Down = true;

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal("v1", await cache.GetOrSetAsync<string>(key, _ => throw new InvalidOperationException("db"), options));

        time.Advance(TimeSpan.FromMinutes(6)); // 11 minutes after it was stored
        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetOrSetAsync<string>(key, _ => throw new InvalidOperationException("db"), options).AsTask());
        Assert.Equal(0, InFlight(cache));
    }

    [Fact]
    public async Task GetOrSetManyAsync_FactoryReturnsExtraFewerAndNullValues_OnlyAskedKeysStored_MissingNotCached()
    {
        var (cache, l1, l2, _) = TierTestKit.Build();
        await using var scope = cache;
        var a = TierTestKit.Key(this);
        var b = TierTestKit.Key(this);
        var c = TierTestKit.Key(this);
        var extra = TierTestKit.Key(this);
        var asked = new List<IReadOnlyList<string>>();

        var found = await cache.GetOrSetManyAsync<string?>([a, b, a, c], (keys, _) =>
        {
            asked.Add([.. keys]);
            return ValueTask.FromResult<IReadOnlyDictionary<string, string?>>(new Dictionary<string, string?> { [a] = "A", [b] = null, [extra] = "X" });
        });

        Assert.Single(asked);
        Assert.Equal([a, b, c], asked[0]);
        Assert.Equal(2, found.Count);
        Assert.Equal("A", found[a]);
        Assert.Null(found[b]);
        Assert.False(found.ContainsKey(c));
        Assert.False(l1.TryGet<string>(extra, out _));
        Assert.False((await l2.Inner.GetAsync<string>(extra)).HasValue);
        Assert.False((await l2.Inner.GetAsync<string>(c)).HasValue);
        Assert.Equal(0, InFlight(cache));

        // c is loaded again on the next call; a and b are not.
        var again = await cache.GetOrSetManyAsync<string?>([a, b, c], (keys, _) =>
        {
            asked.Add([.. keys]);
            return ValueTask.FromResult<IReadOnlyDictionary<string, string?>>(keys.ToDictionary(k => k, _ => (string?)"late"));
        });
        Assert.Equal([c], asked[1]);
        Assert.Equal("late", again[c]);
    }

    [Fact]
    public async Task GetOrSetManyAsync_FactoryReturnsNullDictionaryOrThrows_InFlightEmpties_ExceptionTypeKept()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var a = TierTestKit.Key(this);
        var none = await cache.GetOrSetManyAsync<string>([a], (_, _) => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(null!));
        Assert.Empty(none);

        var thrown = await Assert.ThrowsAsync<FormatException>(() => cache.GetOrSetManyAsync<string>([a], (_, _) => throw new FormatException("sync")).AsTask());
        Assert.Equal("sync", thrown.Message);
        Assert.Equal(0, InFlight(cache));
    }

    [Fact]
    public async Task GetOrSetManyAsync_KeyOfASingleLoadInFlight_IsJoinedNotLoadedTwice()
    {
        var (cache, _, _, _) = TierTestKit.Build();
        await using var scope = cache;
        var shared = TierTestKit.Key(this);
        var own = TierTestKit.Key(this);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var single = cache.GetOrSetAsync(shared, async _ =>
        {
            started.TrySetResult();
            await release.Task;
            return "single";
        }).AsTask();
        await started.Task.WaitAsync(Wait);
        IReadOnlyList<string>? asked = null;
        var batch = cache.GetOrSetManyAsync<string>([shared, own], (keys, _) =>
        {
            asked = [.. keys];
            return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(keys.ToDictionary(k => k, _ => "batch"));
        }).AsTask();
        release.SetResult();

        var found = await batch.WaitAsync(Wait);
        Assert.Equal([own], asked);
        Assert.Equal("single", found[shared]);
        Assert.Equal("batch", found[own]);
        Assert.Equal("single", await single);
        Assert.Equal(0, InFlight(cache));
    }

    [Fact]
    public async Task Breaker_CallerCancellationsDoNotOpenTheCircuit()
    {
        var (cache, _, l2, _) = TierTestKit.Build(o => o.CircuitBreakerFailureThreshold = 2);
        await using var scope = cache;
        l2.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < 5; i++)
        {
            using var cts = new CancellationTokenSource();
            var read = cache.GetAsync<string>(TierTestKit.Key(this) + i, cts.Token).AsTask();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(Wait));
            using var batchCts = new CancellationTokenSource();
            var batch = cache.GetOrSetManyAsync<string>([TierTestKit.Key(this) + i], (k, _) => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>()), cancellationToken: batchCts.Token).AsTask();
            batchCts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => batch.WaitAsync(Wait));
        }

        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
    }

    [Fact]
    public async Task Breaker_OpensOnTimeouts_HalfOpenProbe_ClosesWhenTheTierAnswers()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, l2, _) = TierTestKit.Build(o =>
        {
            o.CircuitBreakerFailureThreshold = 2;
            o.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(5);
        }, time);
        await using var scope = cache;
        l2.Down = true;
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal("f", await cache.GetOrSetAsync(TierTestKit.Key(this), _ => new ValueTask<string>("f")));
        }

        Assert.Equal(CircuitState.Open, cache.GetCircuitState(1));
        var before = l2.GetCalls;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("f", await cache.GetOrSetAsync(TierTestKit.Key(this), _ => new ValueTask<string>("f")));
        }

        Assert.Equal(before, l2.GetCalls); // skipped while open
        l2.Down = false;
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitState.HalfOpen, cache.GetCircuitState(1));
        Assert.Equal("f", await cache.GetOrSetAsync(TierTestKit.Key(this), _ => new ValueTask<string>("f")));
        Assert.Equal(CircuitState.Closed, cache.GetCircuitState(1));
    }

    [Fact]
    public async Task HardTimeout_AbandonedSingleAndBatchLoads_InFlightEmpties_NextCallLoadsAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (cache, _, _, _) = TierTestKit.Build(time: time);
        await using var scope = cache;
        var key = TierTestKit.Key(this);
        var batchKey = TierTestKit.Key(this);
        var never = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new MultiTierEntryOptions { FactoryTimeout = TimeSpan.FromSeconds(1), FactoryHardTimeout = TimeSpan.FromSeconds(3) };

        var single = cache.GetOrSetAsync(key, _ => new ValueTask<string>(never.Task), options).AsTask();
        var batch = cache.GetOrSetManyAsync<string>([batchKey], async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return new Dictionary<string, string>();
        }, options).AsTask();
        await TierTestKit.Eventually(() => InFlight(cache) == 2);
        for (var i = 0; i < 40 && (!single.IsCompleted || !batch.IsCompleted || InFlight(cache) > 0); i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(5);
        }

        await Assert.ThrowsAsync<CacheTimeoutException>(() => single.WaitAsync(Wait));
        await Assert.ThrowsAsync<CacheTimeoutException>(() => batch.WaitAsync(Wait));
        await TierTestKit.Eventually(() => InFlight(cache) == 0);
        Assert.Equal("again", await cache.GetOrSetAsync(key, _ => new ValueTask<string>("again"), options));
    }

    [Fact]
    public async Task Redis_KilledAndRestartedDuringReadThrough_NoUnobservedExceptions_RecoversInBoundedTime()
    {
        Assert.True(redis.OwnsServer, "needs a server the fixture started");
        var prefix = $"{nameof(ReadThroughEdgeCaseTests)}:{Guid.NewGuid():N}:";
        var marker = $"kill-{Guid.NewGuid():N}";
        await using var l2 = await RedisCache.ConnectAsync(redis.ConnectionString + ",connectRetry=1", new RedisCacheOptions { KeyPrefix = prefix, OperationTimeout = TimeSpan.FromMilliseconds(500) });
        var options = new MultiTierCacheOptions
        {
            OwnsTiers = false,
            TierTimeout = TimeSpan.FromMilliseconds(300),
            CircuitBreakerFailureThreshold = 2,
            CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(200),
        };
        options.Tiers.Add(TierTestKit.Memory("L1"));
        options.Tiers.Add(l2);
        await using var cache = new MultiTierCache(options);
        var entry = new MultiTierEntryOptions { LocalTtl = TimeSpan.FromMilliseconds(1), Ttl = TimeSpan.FromMinutes(5) };

        var unobserved = await TierTestKit.CountUnobservedAsync(marker, async () =>
        {
            using var stop = new CancellationTokenSource();
            var readers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                var n = 0;
                while (!stop.IsCancellationRequested)
                {
                    var key = $"k{n++ % 20}";
                    try
                    {
                        await cache.GetOrSetAsync(key, async ct =>
                        {
                            await Task.Delay(5, ct);
                            if (n % 7 == 0)
                            {
                                throw new InvalidOperationException(marker);
                            }

                            return "v";
                        }, entry);
                    }
                    catch (InvalidOperationException e) when (e.Message == marker)
                    {
                    }
                }
            })).ToArray();
            await Task.Delay(300);
            redis.Kill();
            await Task.Delay(800);
            await redis.RestartAsync();
            var healed = DateTime.UtcNow;
            await TierTestKit.Eventually(() => cache.GetCircuitState(1) == CircuitState.Closed, TimeSpan.FromSeconds(15));
            var key = $"after:{Guid.NewGuid():N}";
            await TierTestKit.Eventually(() =>
            {
                cache.GetOrSetAsync(key, _ => new ValueTask<string>("v"), entry).AsTask().Wait();
                try
                {
                    return l2.GetAsync<string>(key).AsTask().Result.HasValue;
                }
                catch (AggregateException e) when (e.InnerException is CacheTimeoutException or CacheConnectionException)
                {
                    return false; // the check's own read, right after the restart on a loaded machine: not healed yet
                }
            }, TimeSpan.FromSeconds(15));
            Assert.True(DateTime.UtcNow - healed < TimeSpan.FromSeconds(15));
            await stop.CancelAsync();
            await Task.WhenAll(readers);
        });

        Assert.Equal(0, InFlight(cache));
        Assert.Equal(0, unobserved);
    }
}
