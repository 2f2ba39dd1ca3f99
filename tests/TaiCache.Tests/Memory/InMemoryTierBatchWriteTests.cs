using Microsoft.Extensions.Time.Testing;

namespace TaiCache.Tests.Memory;

/// <summary>
/// Batch writes (<see cref="InMemoryTier.SetManyAsync{T}"/>, and the L1 copy of a batch read) into a full tier: entries
/// the batch would push through the window meet TinyLFU admission directly; the policy's outcome and the tier's
/// bookkeeping must stay what one-by-one writes give.
/// </summary>
public sealed class InMemoryTierBatchWriteTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private InMemoryTier Create(long maximumSize) => new(new InMemoryTierOptions { MaximumSize = maximumSize, TimeProvider = _time });

    private static string Key(string test, object suffix) => $"{nameof(InMemoryTierBatchWriteTests)}:{test}:{suffix}";

    [Fact]
    public async Task SetManyAsync_ScanThroughFullTier_HotKeysSurvive_AndEveryRejectionIsReported()
    {
        var cache = Create(1000);
        var evicted = 0;
        cache.Evicted += (_, e) =>
        {
            Assert.Equal(EvictionReason.Size, e.Reason);
            Interlocked.Increment(ref evicted);
        };
        string Hot(int i) => Key(nameof(SetManyAsync_ScanThroughFullTier_HotKeysSurvive_AndEveryRejectionIsReported), $"hot{i}");
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 300; i++)
            {
                if (!cache.TryGet<int>(Hot(i), out _))
                {
                    cache.Set(Hot(i), i);
                }
            }
        }

        var stored = cache.Count;
        for (var batch = 0; batch < 200; batch++)
        {
            var items = Enumerable.Range(batch * 100, 100)
                .Select(i => KeyValuePair.Create(Key(nameof(SetManyAsync_ScanThroughFullTier_HotKeysSurvive_AndEveryRejectionIsReported), $"scan{i}"), i));
            await cache.SetManyAsync(items);
            stored += 100;
        }

        var survivors = Enumerable.Range(0, 300).Count(i => cache.TryGet<int>(Hot(i), out _));
        Assert.True(survivors >= 270, $"only {survivors} of 300 hot keys survived a scan of 20,000 keys in batches of 100");
        Assert.True(cache.Count <= 1000);

        // Every key was new, so whatever is not held was evicted, and each of those was reported once.
        Assert.Equal(stored - cache.Count, evicted);
    }

    [Fact]
    public async Task SetManyAsync_BatchLargerThanTheWindow_TheLatestEntriesAreReadable()
    {
        var cache = Create(1000);
        await cache.SetManyAsync(Enumerable.Range(0, 1000).Select(i => KeyValuePair.Create(Key(nameof(SetManyAsync_BatchLargerThanTheWindow_TheLatestEntriesAreReadable), i), i)));

        var batch = Enumerable.Range(5000, 100).Select(i => KeyValuePair.Create(Key(nameof(SetManyAsync_BatchLargerThanTheWindow_TheLatestEntriesAreReadable), i), i)).ToList();
        await cache.SetManyAsync(batch);

        // The window (1% of 1,000) holds the batch's last entries whatever admission decided for the earlier ones.
        foreach (var (key, value) in batch.TakeLast(10))
        {
            Assert.True(cache.TryGet<int>(key, out var read), $"{key} was just written and should sit in the window");
            Assert.Equal(value, read);
        }

        Assert.Equal(1000, cache.Count);
    }

    [Fact]
    public async Task SetManyAsync_PopularKeyEarlyInABatch_IsAdmitted_ColdOnesAreNot()
    {
        var cache = Create(500);
        await cache.SetManyAsync(Enumerable.Range(0, 500).Select(i => KeyValuePair.Create(Key(nameof(SetManyAsync_PopularKeyEarlyInABatch_IsAdmitted_ColdOnesAreNot), $"filler{i}"), i)));
        var popular = Key(nameof(SetManyAsync_PopularKeyEarlyInABatch_IsAdmitted_ColdOnesAreNot), "popular");
        for (var i = 0; i < 12; i++)
        {
            cache.Set(popular, i);
        }

        Assert.True(cache.Remove(popular));
        cache.Set(Key(nameof(SetManyAsync_PopularKeyEarlyInABatch_IsAdmitted_ColdOnesAreNot), "filler-last"), 0);
        Assert.Equal(500, cache.Count);

        var cold = Enumerable.Range(0, 99).Select(i => KeyValuePair.Create(Key(nameof(SetManyAsync_PopularKeyEarlyInABatch_IsAdmitted_ColdOnesAreNot), $"cold{i}"), i));
        await cache.SetManyAsync(cold.Prepend(KeyValuePair.Create(popular, 42)));

        Assert.True(cache.TryGet<int>(popular, out var value), "a key seen 12 times should win admission over never-read entries");
        Assert.Equal(42, value);
        var coldHeld = Enumerable.Range(0, 80).Count(i => cache.TryGet<int>(Key(nameof(SetManyAsync_PopularKeyEarlyInABatch_IsAdmitted_ColdOnesAreNot), $"cold{i}"), out _));
        Assert.True(coldHeld <= 8, $"{coldHeld} of the batch's 80 earliest cold entries displaced entries just as popular");
    }

    [Fact]
    public async Task SetManyAsync_FullTier_FirstSightingLoses_LaterSightingsBeatEntriesSeenOnce()
    {
        const string test = nameof(SetManyAsync_FullTier_FirstSightingLoses_LaterSightingsBeatEntriesSeenOnce);
        var cache = Create(500);
        for (var i = 0; i < 500; i++)
        {
            cache.Set(Key(test, $"filler{i}"), i);
        }

        var refused = new List<string>();
        cache.Evicted += (_, e) => refused.Add(e.Key);
        var batch = Enumerable.Range(0, 100).Select(i => KeyValuePair.Create(Key(test, $"new{i}"), i)).ToList();

        // First sighting: the entries that go straight to admission lose, and are reported. Almost all of them: a new key whose four sketch counters were all raised by earlier keys (about 0.4% of keys with
        // 600 keys in this sketch) is counted twice at once and can win a contest, pushing out one filler.
        await cache.SetManyAsync(batch);
        var direct = batch.Take(80).Select(b => b.Key).ToList();
        var admittedAtOnce = direct.Where(key => cache.TryGet<int>(key, out _)).ToList();
        Assert.True(admittedAtOnce.Count <= 4, $"{admittedAtOnce.Count} of 80 keys were admitted on their first sighting: {string.Join(", ", admittedAtOnce)}");
        Assert.Superset(direct.Except(admittedAtOnce).ToHashSet(), refused.ToHashSet());
        Assert.Equal(500, cache.Count);

        // Later sightings: the keys now outcount the probation victims, seen once, so they win contests. (Not every one:
        // the sketch overestimates, and a victim that a collision counts as often as the candidate stops the batch.)
        await cache.SetManyAsync(batch);
        await cache.SetManyAsync(batch);
        var admitted = direct.Count(key => cache.TryGet<int>(key, out _));
        Assert.True(admitted >= 20, $"only {admitted} of 80 keys seen three times displaced entries seen once");
        Assert.Equal(500, cache.Count);
    }

    [Fact]
    public async Task SetManyAsync_RandomBatchesWithRepeats_CountMatchesWhatIsReadable_AndValuesAreTheLatest()
    {
        var cache = Create(500);
        var random = new Random(11);
        var latest = new Dictionary<string, int>();
        var version = 0;
        for (var batch = 0; batch < 300; batch++)
        {
            // Batches of 1 to 300 keys from 3,000, some repeated within the batch (the later value must win).
            var items = Enumerable.Range(0, random.Next(1, 301))
                .Select(_ => KeyValuePair.Create(Key(nameof(SetManyAsync_RandomBatchesWithRepeats_CountMatchesWhatIsReadable_AndValuesAreTheLatest), random.Next(3000)), ++version))
                .ToList();
            await cache.SetManyAsync(items);
            foreach (var (key, value) in items)
            {
                latest[key] = value;
            }

            if (batch % 30 == 0)
            {
                for (var i = 0; i < 200; i++)
                {
                    cache.TryGet<int>(Key(nameof(SetManyAsync_RandomBatchesWithRepeats_CountMatchesWhatIsReadable_AndValuesAreTheLatest), random.Next(3000)), out _);
                }
            }
        }

        var readable = 0;
        foreach (var (key, value) in latest)
        {
            if (cache.TryGet<int>(key, out var read))
            {
                readable++;
                Assert.Equal(value, read);
            }
        }

        Assert.Equal(readable, cache.Count);
        Assert.InRange(cache.Count, 1, 500);
    }

    [Fact]
    public async Task SetManyAsync_WithWeigher_EntriesCarryTheirWeights_AndABadWeightStoresNothingOfTheBatch()
    {
        var tier = new InMemoryTier(new InMemoryTierOptions
        {
            MaximumSize = 10_000,
            TimeProvider = _time,
            Weigher = static (_, value) => value is string s ? (s == "bad" ? -1 : s.Length) : 1,
        });
        string K(int i) => Key(nameof(SetManyAsync_WithWeigher_EntriesCarryTheirWeights_AndABadWeightStoresNothingOfTheBatch), i);
        await tier.SetManyAsync(Enumerable.Range(1, 20).Select(i => KeyValuePair.Create(K(i), new string('x', i))));
        Assert.Equal(20, tier.Count);
        Assert.Equal(Enumerable.Range(1, 20).Sum(), tier.Weight);

        // The weigher runs before anything is written: a bad weight fails the batch, and nothing of it, nor of what was stored, changes.
        var bad = new[] { KeyValuePair.Create(K(1), "replaced"), KeyValuePair.Create(K(100), "new"), KeyValuePair.Create(K(101), "bad") };
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await tier.SetManyAsync(bad));
        Assert.Contains("Weigher", e.Message);
        Assert.Equal(20, tier.Count);
        Assert.Equal(Enumerable.Range(1, 20).Sum(), tier.Weight);
        Assert.True(tier.TryGet<string>(K(1), out var kept) && kept == "x");
        Assert.False(tier.TryGet<string>(K(100), out _));
    }

    [Fact]
    public async Task SetManyAsync_WithSlidingExpiration_ReadsKeepBatchEntriesAliveUntilTheirTtl()
    {
        var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000, TimeProvider = _time, SlidingExpiration = TimeSpan.FromSeconds(10) });
        string K(string name) => Key(nameof(SetManyAsync_WithSlidingExpiration_ReadsKeepBatchEntriesAliveUntilTheirTtl), name);
        await tier.SetManyAsync([KeyValuePair.Create(K("read"), 1), KeyValuePair.Create(K("idle"), 2)], TimeSpan.FromSeconds(25));
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(6));
            Assert.True(tier.TryGet<int>(K("read"), out _), $"read at {(i + 1) * 6} s"); // each read slides it 10 s on
        }

        Assert.False(tier.TryGet<int>(K("idle"), out _)); // not read for 24 s: slid out after 10
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(tier.TryGet<int>(K("read"), out _)); // 26 s: past the 25 s TTL however often it was read
    }
}
