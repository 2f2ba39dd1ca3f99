using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>
/// The write-behind journal's file deleted while the cache has it open: SQLite would go on writing to the unlinked
/// file, which no restart can open, so writes acknowledged from then on would be lost at a crash. They are refused.
/// </summary>
public sealed class WriteBehindJournalDeletedTests
{
    /// <summary>A write-behind cache over the journal at <paramref name="path"/>, its L2 a fault-injecting memory tier.</summary>
    private static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2) WriteBehind(string path)
    {
        var (cache, l1, l2, _) = TierTestKit.Build(o =>
        {
            o.WriteStrategy = WriteStrategy.WriteBehind;
            o.WriteBehind.JournalPath = path;
        });
        return (cache, l1, l2);
    }

    [Fact]
    public async Task JournalFileDeleted_WritesRefusedBeforeAnythingIsApplied_ValuesQueuedBeforeStayServed()
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            var (cache, l1, l2) = WriteBehind(path);
            await using var scope = cache;
            var key = TierTestKit.Key(this);
            await cache.SetAsync(key, "before");
            Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

            File.Delete(path);

            var single = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetAsync(key, "after"));
            Assert.Contains("was deleted", single.Message, StringComparison.Ordinal);
            var batch = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetManyAsync([KeyValuePair.Create(key + ":b", 1)]));
            Assert.Contains("was deleted", batch.Message, StringComparison.Ordinal);

            // Nothing of the refused writes stays: the single one is taken back (L1 forgets the key, the queue holds
            // nothing for it), the batch was refused before anything was applied.
            Assert.False(l1.TryGet<string>(key, out _));
            Assert.Equal("before", (await cache.GetAsync<string>(key)).Value);
            Assert.False(l1.TryGet<int>(key + ":b", out _));
            Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
            Assert.Equal("before", (await l2.Inner.GetAsync<string>(key)).Value);
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }

    /// <summary>
    /// Another file moved over the journal's path while the cache has the journal open (a file still exists there, so
    /// only a check of which file it is finds it): writes are refused, and what was journaled before is not lost to
    /// the ones after (nothing is acknowledged into the replaced file).
    /// </summary>
    [Fact]
    public async Task JournalFileReplacedAtItsPath_WritesRefused()
    {
        var path = TierTestKit.NewJournalPath();
        var other = TierTestKit.NewJournalPath();
        try
        {
            File.WriteAllBytes(other, []); // an empty file: SQLite would take it as an empty database
            var (cache, l1, _) = WriteBehind(path);
            await using var scope = cache;
            var key = TierTestKit.Key(this);
            await cache.SetAsync(key, "before");
            Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);

            File.Move(other, path, overwrite: true);

            var single = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetAsync(key, "after"));
            Assert.Contains("replaced", single.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.SetManyAsync([KeyValuePair.Create(key + ":b", 1)]));
            Assert.Equal("before", (await cache.GetAsync<string>(key)).Value);
            Assert.False(l1.TryGet<int>(key + ":b", out _));
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
            TierTestKit.DeleteJournal(other);
        }
    }

    /// <summary>
    /// A new TTL for a value still queued is journaled before the queue takes it: with the journal file gone, the
    /// change would go to a file no restart opens, so <c>ExpireAsync</c> fails and the queued value keeps its TTL.
    /// </summary>
    [Fact]
    public async Task JournalFileDeleted_ExpireOfAQueuedValue_Fails_AndTheValueKeepsItsTtl()
    {
        var path = TierTestKit.NewJournalPath();
        try
        {
            var (cache, _, l2) = WriteBehind(path);
            await using var scope = cache;
            var key = TierTestKit.Key(this);
            l2.Down = true; // the value waits in the queue
            await cache.SetAsync(key, "v", TimeSpan.FromHours(1));

            File.Delete(path);

            var error = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.ExpireAsync(key, TimeSpan.FromMinutes(1)));
            Assert.Contains("was deleted", error.Message, StringComparison.Ordinal);
            l2.Down = false;
            Assert.True((await cache.FlushAsync(TimeSpan.FromSeconds(20))).Completed);
            Assert.True(((InMemoryTier)l2.Inner).GetRemainingTtl(key) > TimeSpan.FromMinutes(30)); // the set's hour, not the refused minute
        }
        finally
        {
            TierTestKit.DeleteJournal(path);
        }
    }
}
