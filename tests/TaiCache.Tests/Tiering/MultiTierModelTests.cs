using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// Random sequences of writes, removals, new TTLs, loads (single and batch), reads (single and batch), clock steps,
/// flushes and (with a journal) crashes and restarts, on a few keys so writes coalesce and overtake each other, checked against a plain dictionary of what
/// each key should hold: every read, and after a final flush every tier, must agree with it.
/// </summary>
public sealed class MultiTierModelTests
{
    private const int Keys = 8;
    private const int Steps = 1000;

    public enum Mode
    {
        WriteThrough,
        WriteBehind,
        WriteBehindWithJournalAndCrashes,
    }

    [Theory]
    [InlineData(Mode.WriteThrough, 1)]
    [InlineData(Mode.WriteThrough, 2)]
    [InlineData(Mode.WriteThrough, 3)]
    [InlineData(Mode.WriteThrough, 4)]
    [InlineData(Mode.WriteBehind, 1)]
    [InlineData(Mode.WriteBehind, 2)]
    [InlineData(Mode.WriteBehind, 3)]
    [InlineData(Mode.WriteBehind, 4)]
    [InlineData(Mode.WriteBehindWithJournalAndCrashes, 1)]
    [InlineData(Mode.WriteBehindWithJournalAndCrashes, 2)]
    [InlineData(Mode.WriteBehindWithJournalAndCrashes, 3)]
    [InlineData(Mode.WriteBehindWithJournalAndCrashes, 4)]
    public async Task RandomOperations_EveryReadAndEveryTierAgreeWithTheModel(Mode mode, int seed)
    {
        var random = new Random(seed);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var journal = mode == Mode.WriteBehindWithJournalAndCrashes ? TierTestKit.NewJournalPath() : null;
        var l2 = new RemoteMemoryTier(TierTestKit.Memory("L2", time));
        var keys = Enumerable.Range(0, Keys).Select(i => TierTestKit.Key(this) + $":{i}").ToArray();
        var model = new Dictionary<string, (int Value, DateTimeOffset? ExpiresAt)>();
        var next = 0;
        var log = new List<string>();
        var (cache, l1) = Build(mode, time, l2, journal);
        try
        {
            for (var step = 0; step < Steps; step++)
            {
                var key = keys[random.Next(Keys)];
                var roll = random.Next(100);
                if (roll < 25)
                {
                    var ttl = RandomTtl(random);
                    var value = ++next;
                    log.Add($"set {key[^1]}={value} ttl {ttl}");
                    await Bound(cache.SetAsync(key, value, new MultiTierEntryOptions { Ttl = ttl }), log);
                    model[key] = (value, time.GetUtcNow() + ttl);
                }
                else if (roll < 35)
                {
                    log.Add($"delete {key[^1]}");
                    await Bound(cache.DeleteAsync(key), log);
                    model.Remove(key);
                }
                else if (roll < 43)
                {
                    var ttl = RandomTtl(random) ?? TimeSpan.FromSeconds(9.0003);
                    log.Add($"expire {key[^1]} {ttl}");
                    await Bound(cache.ExpireAsync(key, ttl), log);
                    if (Live(model, key, time) is { } held)
                    {
                        model[key] = (held, time.GetUtcNow() + ttl);
                    }
                }
                else if (roll < 55)
                {
                    var ttl = RandomTtl(random);
                    var loaded = ++next;
                    log.Add($"get-or-set {key[^1]} (would load {loaded}) ttl {ttl}");
                    var got = await Bound(cache.GetOrSetAsync(key, _ => ValueTask.FromResult(loaded), new MultiTierEntryOptions { Ttl = ttl }), log);
                    var expected = Live(model, key, time);
                    Check(expected is null ? got == loaded : got == expected, log, () => $"get-or-set returned {got}, model {expected?.ToString() ?? "nothing"}");
                    if (expected is null)
                    {
                        model[key] = (loaded, time.GetUtcNow() + ttl);
                    }
                }
                else if (roll < 62)
                {
                    var batch = keys.OrderBy(_ => random.Next()).Take(random.Next(2, 4)).ToArray();
                    var ttl = RandomTtl(random);
                    var items = batch.Select(k => KeyValuePair.Create(k, ++next)).ToArray();
                    log.Add($"set-many {string.Join(",", items.Select(i => $"{i.Key[^1]}={i.Value}"))} ttl {ttl}");
                    await Bound(cache.SetManyAsync(items, ttl), log);
                    foreach (var item in items)
                    {
                        model[item.Key] = (item.Value, time.GetUtcNow() + ttl);
                    }
                }
                else if (roll < 65)
                {
                    var batch = keys.OrderBy(_ => random.Next()).Take(2).ToArray();
                    log.Add($"delete-many {string.Join(",", batch.Select(k => k[^1]))}");
                    await Bound(cache.DeleteManyAsync(batch), log);
                    foreach (var k in batch)
                    {
                        model.Remove(k);
                    }
                }
                else if (roll < 72)
                {
                    // Batch reads: a plain one, or a batch read-through whose factory loads the keys still missing.
                    var batch = keys.OrderBy(_ => random.Next()).Take(random.Next(2, 5)).ToArray();
                    var load = random.Next(2) == 0;
                    var ttl = RandomTtl(random);
                    var loaded = new Dictionary<string, int>();
                    log.Add($"{(load ? "get-or-set-many" : "get-many")} {string.Join(",", batch.Select(k => k[^1]))}{(load ? $" ttl {ttl}" : "")}");
                    var found = load
                        ? await Bound(cache.GetOrSetManyAsync<int>(batch, (missing, _) =>
                        {
                            foreach (var k in missing)
                            {
                                loaded[k] = ++next;
                            }

                            return ValueTask.FromResult<IReadOnlyDictionary<string, int>>(missing.ToDictionary(k => k, k => loaded[k]));
                        }, new MultiTierEntryOptions { Ttl = ttl }), log)
                        : await Bound(cache.GetManyAsync<int>(batch), log);
                    foreach (var k in batch)
                    {
                        var expected = Live(model, k, time);
                        if (expected is null && loaded.TryGetValue(k, out var fresh))
                        {
                            model[k] = (fresh, time.GetUtcNow() + ttl);
                            expected = fresh;
                        }

                        Check(found.TryGetValue(k, out var got) ? got == expected : expected is null, log, () => $"batch read of {k[^1]} gave {(found.TryGetValue(k, out var g) ? g : "nothing")}, model {expected?.ToString() ?? "nothing"}");
                        Check(!loaded.ContainsKey(k) || Live(model, k, time) == loaded[k], log, () => $"the factory loaded {k[^1]}, which the model holds live");
                    }
                }
                else if (roll < 82)
                {
                    var read = await Bound(cache.GetAsync<int>(key), log);
                    var expected = Live(model, key, time);
                    Check(read.HasValue ? read.Value == expected : expected is null, log, () => $"get {key[^1]} read {(read.HasValue ? read.Value : "nothing")}, model {expected?.ToString() ?? "nothing"}");
                }
                else if (roll < 90)
                {
                    // The flusher runs beside this loop on the real clock and stamps a value's TTL left when it writes it:
                    // a step of the fake clock in between would lengthen it, as network latency does, by the step. So the
                    // clock moves only once the queue is written (the TTL of a value waiting in the queue has tests of its own).
                    var step_ = TimeSpan.FromMilliseconds(random.Next(200, 4_000));
                    log.Add($"clock +{step_}");
                    if (mode != Mode.WriteThrough)
                    {
                        await FlushAsync(cache, log);
                    }

                    time.Advance(step_);
                }
                else if (roll < 96 || journal is null)
                {
                    if (mode != Mode.WriteThrough)
                    {
                        log.Add("flush");
                        await FlushAsync(cache, log);
                    }
                }
                else
                {
                    // A crash: queued writes are left in the journal only; a new process (new L1) replays them.
                    log.Add("crash and restart");
                    await cache.WriteBehindQueue!.AbandonAsync();
                    await cache.DisposeAsync();
                    (cache, l1) = Build(mode, time, l2, journal);
                }
            }

            if (mode != Mode.WriteThrough)
            {
                await FlushAsync(cache, log);
            }

            foreach (var key in keys)
            {
                var expected = Live(model, key, time);
                var below = await l2.Inner.GetAsync<int>(key);
                Check(below.HasValue ? below.Value == expected : expected is null, log, () => $"after the flush L2 holds {(below.HasValue ? below.Value : "nothing")} for {key[^1]}, model {expected?.ToString() ?? "nothing"}");
                if (l1.TryGet<int>(key, out var inMemory))
                {
                    Check(inMemory == expected, log, () => $"after the flush L1 holds {inMemory} for {key[^1]}, model {expected?.ToString() ?? "nothing"}");
                }

                var read = await cache.GetAsync<int>(key);
                Check(read.HasValue ? read.Value == expected : expected is null, log, () => $"final get {key[^1]} read {(read.HasValue ? read.Value : "nothing")}, model {expected?.ToString() ?? "nothing"}");
            }
        }
        finally
        {
            // A failed run may leave writes queued, and a drain's deadline runs on the fake clock: drop them first.
            if (cache.WriteBehindQueue is { } queue)
            {
                await queue.AbandonAsync();
            }

            await cache.DisposeAsync();
            if (journal is not null)
            {
                TierTestKit.DeleteJournal(journal);
            }
        }
    }

    private static (MultiTierCache Cache, InMemoryTier L1) Build(Mode mode, FakeTimeProvider time, RemoteMemoryTier l2, string? journal)
    {
        var l1 = TierTestKit.Memory("L1", time);
        var options = new MultiTierCacheOptions { TimeProvider = time, ReadStrategy = ReadStrategy.ReadThrough, OwnsTiers = false }; // L2 outlives a crashed instance
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        if (mode != Mode.WriteThrough)
        {
            options.WriteStrategy = WriteStrategy.WriteBehind;
            options.WriteBehind.JournalPath = journal;
        }

        return (new MultiTierCache(options), l1);
    }

    /// <summary>
    /// A memory tier the cache reads as a remote one (as <see cref="FaultyTier"/> does), that answers batch reads with each
    /// hit's expiry as the real remote tiers do (<see cref="IBatchReader"/>), so batch copies are capped as in production.
    /// </summary>
    private sealed class RemoteMemoryTier(InMemoryTier inner) : ICacheOps, IBatchReader, IConditionalWriter
    {
        public InMemoryTier Inner { get; } = inner;

        public string Name => Inner.Name;

        public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) => Inner.GetAsync<T>(key, cancellationToken);

        public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => Inner.SetAsync(key, value, ttl, cancellationToken);

        public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => Inner.DeleteAsync(key, cancellationToken);

        public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => Inner.ExistsAsync(key, cancellationToken);

        public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) => Inner.ExpireAsync(key, ttl, cancellationToken);

        public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default) => Inner.GetManyAsync<T>(keys, cancellationToken);

        public ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => Inner.SetManyAsync(items, ttl, cancellationToken);

        public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => Inner.DeleteManyAsync(keys, cancellationToken);

        public ValueTask<CacheResult<T>[]> ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken) => ((IBatchReader)Inner).ReadManyAsync<T>(keys, cancellationToken);

        public ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => ((IConditionalWriter)Inner).AddAsync(key, value, ttl, cancellationToken);

        public ValueTask<bool[]> AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => ((IConditionalWriter)Inner).AddManyAsync(items, ttl, cancellationToken);

        public ValueTask DisposeAsync() => Inner.DisposeAsync();
    }

    /// <summary>No TTL, or a few seconds and a fraction of a millisecond, so no expiry falls on a clock step (whole milliseconds).</summary>
    private static TimeSpan? RandomTtl(Random random) =>
        random.Next(4) == 0 ? null : TimeSpan.FromSeconds(random.Next(1, 12)) + TimeSpan.FromTicks(3_000);

    private static int? Live(Dictionary<string, (int Value, DateTimeOffset? ExpiresAt)> model, string key, FakeTimeProvider time) =>
        model.TryGetValue(key, out var entry) && (entry.ExpiresAt is null || entry.ExpiresAt > time.GetUtcNow()) ? entry.Value : null;

    /// <summary>Flushes the queue without moving the fake clock (L2 never fails here, so nothing waits out a back-off).</summary>
    private static async Task FlushAsync(MultiTierCache cache, List<string> log)
    {
        var flushed = await Bound(new ValueTask<WriteBehindFlushResult>(cache.FlushAsync()), log);
        Check(flushed.Completed, log, () => $"flush incomplete: {flushed.PendingCount} pending");
    }

    /// <summary>Waits for a call, failing with the steps so far if it does not finish.</summary>
    private static async Task<T> Bound<T>(ValueTask<T> call, List<string> log)
    {
        try
        {
            return await call.AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(Explain(log, "a call did not finish"), e);
        }
    }

    private static async Task Bound(ValueTask call, List<string> log) => await Bound(WithResult(call), log);

    private static async ValueTask<bool> WithResult(ValueTask call)
    {
        await call;
        return true;
    }

    private static void Check(bool ok, List<string> log, Func<string> what)
    {
        if (!ok)
        {
            Assert.Fail(Explain(log, what()));
        }
    }

    private static string Explain(List<string> log, string what)
    {
        if (Environment.GetEnvironmentVariable("TAICACHE_MODEL_LOG") is { } path)
        {
            File.WriteAllLines(path + $".{Guid.NewGuid():N}.log", log.Append(what));
        }

        return $"{what}; last steps: {string.Join(" | ", log.TakeLast(25))}";
    }
}
