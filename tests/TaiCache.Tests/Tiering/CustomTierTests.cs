using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// A tier written outside TaiCache takes part as the built-in ones do through the public contract: hits that carry their
/// expiry (<see cref="CacheResult{T}(T, DateTimeOffset)"/>) cap the copies in the tiers above, batch reads go through
/// <see cref="IBatchReader"/>, and fills yield through <see cref="IConditionalWriter"/>.
/// </summary>
public sealed class CustomTierTests
{
    private static readonly MultiTierEntryOptions LongCopies = new() { Ttl = TimeSpan.FromHours(1), LocalTtl = TimeSpan.FromHours(1) };

    [Fact]
    public async Task GetAsync_HitReportsItsExpiry_L1CopyEndsWithIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tier = new ExpiringDictionaryTier(time);
        await tier.SetAsync("k", "v", TimeSpan.FromSeconds(10));
        await using var cache = Build(time, tier);

        Assert.Equal("v", (await cache.GetAsync<string>("k", LongCopies)).Value);
        tier.ForgetReads();
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("v", (await cache.GetAsync<string>("k", LongCopies)).Value);
        Assert.Equal(0, tier.Reads); // served by L1

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False((await cache.GetAsync<string>("k", LongCopies)).HasValue); // L1's copy ended with the value, not an hour later
    }

    [Fact]
    public async Task GetOrSetManyAsync_ReadsTheTierInOneBatch_CopiesEndWithEachHit()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tier = new ExpiringDictionaryTier(time);
        await tier.SetAsync("short", 1, TimeSpan.FromSeconds(5));
        await tier.SetAsync("long", 2, TimeSpan.FromSeconds(50));
        await using var cache = Build(time, tier);

        var first = await cache.GetOrSetManyAsync<int>(["short", "long"], static (_, _) => throw new InvalidOperationException("both are in the tier"), LongCopies);
        Assert.Equal(new Dictionary<string, int> { ["short"] = 1, ["long"] = 2 }, first);
        Assert.Equal(1, tier.BatchReads);
        Assert.Equal(0, tier.Reads); // no key read one by one

        time.Advance(TimeSpan.FromSeconds(6));
        var tierHolds = await tier.GetManyAsync<int>(["short", "long"]);
        Assert.Equal(["long"], tierHolds.Keys);
        var l1 = (InMemoryTier)cache.Tiers[0];
        Assert.False(l1.TryGet<int>("short", out _)); // ended with the tier's value
        Assert.True(l1.TryGet<int>("long", out var kept));
        Assert.Equal(2, kept);
    }

    [Fact]
    public async Task GetOrSetAsync_PeerWroteTheTierWhileTheFactoryRan_FillYieldsThroughAddAsync()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tier = new ExpiringDictionaryTier(time);
        await using var cache = Build(time, tier);

        var value = await cache.GetOrSetAsync("k", async ct =>
        {
            await tier.SetAsync("k", "peer's write", cancellationToken: ct); // another instance, meanwhile
            return "factory's value";
        });

        Assert.Equal("factory's value", value); // the caller gets what it loaded
        Assert.Equal(1, tier.Adds);
        Assert.Equal("peer's write", (await tier.GetAsync<string>("k")).Value); // the tier kept the newer write
    }

    [Fact]
    public async Task CacheResult_ExpiresAt_IsWhatTheTierReports()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var l1 = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100, TimeProvider = time });
        l1.Set("ttl", 1, TimeSpan.FromSeconds(30));
        l1.Set("forever", 2);

        var ttl = await l1.GetAsync<int>("ttl");
        Assert.NotNull(ttl.ExpiresAt);
        Assert.InRange(ttl.ExpiresAt.Value, time.GetUtcNow().AddSeconds(29), time.GetUtcNow().AddSeconds(30.01));
        Assert.Null((await l1.GetAsync<int>("forever")).ExpiresAt);
        Assert.Null(new CacheResult<int>(3).ExpiresAt);

        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_900_000_000_000);
        Assert.Equal(at, new CacheResult<int>(3, at).ExpiresAt);
        Assert.Equal(new CacheResult<int>(3), new CacheResult<int>(3, at)); // equality is the value's
    }

    private static MultiTierCache Build(TimeProvider time, ICacheOps tier)
    {
        var options = new MultiTierCacheOptions { Name = "custom", TimeProvider = time };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000, TimeProvider = time }));
        options.Tiers.Add(tier);
        return new MultiTierCache(options);
    }

    /// <summary>A tier of a user's own, written against the public API only: values with expiries in a dictionary.</summary>
    private sealed class ExpiringDictionaryTier(TimeProvider time) : ICacheOps, IBatchReader, IConditionalWriter
    {
        private readonly ConcurrentDictionary<string, (object? Value, DateTimeOffset? ExpiresAt)> _items = new();
        private int _reads;
        private int _batchReads;
        private int _adds;

        public string Name => "expiring-dictionary";

        public int Reads => Volatile.Read(ref _reads);

        public int BatchReads => Volatile.Read(ref _batchReads);

        public int Adds => Volatile.Read(ref _adds);

        public void ForgetReads() => Interlocked.Exchange(ref _reads, 0);

        public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _reads);
            return new(Read<T>(key));
        }

        public ValueTask<CacheResult<T>[]> ReadManyAsync<T>(IReadOnlyList<string> keys, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _batchReads);
            return new(keys.Select(Read<T>).ToArray());
        }

        public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
        {
            _items[key] = (value, After(ttl));
            return ValueTask.CompletedTask;
        }

        public ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _adds);
            if (Read<object>(key).HasValue)
            {
                return new(false);
            }

            _items[key] = (value, After(ttl));
            return new(true);
        }

        public async ValueTask<bool[]> AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
        {
            var stored = new bool[items.Count];
            for (var i = 0; i < items.Count; i++)
            {
                stored[i] = await AddAsync(items[i].Key, items[i].Value, ttl, cancellationToken);
            }

            return stored;
        }

        public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => new(_items.TryRemove(key, out _));

        public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => new(Read<object>(key).HasValue);

        public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
        {
            if (!Read<object>(key).HasValue)
            {
                return new(false);
            }

            _items[key] = (_items[key].Value, After(ttl));
            return new(true);
        }

        public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default) =>
            new(keys.Select(k => (k, Read<T>(k))).Where(r => r.Item2.HasValue).ToDictionary(r => r.k, r => r.Item2.Value));

        public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
        {
            foreach (var item in items)
            {
                await SetAsync(item.Key, item.Value, ttl, cancellationToken);
            }
        }

        public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => new(keys.Count(k => _items.TryRemove(k, out _)));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private CacheResult<T> Read<T>(string key)
        {
            if (!_items.TryGetValue(key, out var held) || held.ExpiresAt <= time.GetUtcNow() || held.Value is not T value)
            {
                return CacheResult<T>.Miss;
            }

            return held.ExpiresAt is { } at ? new CacheResult<T>(value, at) : new CacheResult<T>(value);
        }

        private DateTimeOffset? After(TimeSpan? ttl) => ttl is { } t ? time.GetUtcNow() + t : null;
    }
}
