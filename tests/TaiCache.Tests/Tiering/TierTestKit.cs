using TaiCache.Tiering;
using System.Runtime.CompilerServices;

namespace TaiCache.Tests.Tiering;

/// <summary>Builders shared by the tiering tests.</summary>
internal static class TierTestKit
{
    public static string Key(object test, [CallerMemberName] string name = "") => $"{test.GetType().Name}:{name}:{Guid.NewGuid():N}";

    /// <summary>Unique keys that each sit in a write stripe of their own in <paramref name="l1"/>: a test that writes one of
    /// them while copies of the others are on their way then sees only that key's copy dropped, never a neighbour's.</summary>
    public static string[] KeysInDistinctStripes(InMemoryTier l1, int count, object test, [CallerMemberName] string name = "")
    {
        var keys = new List<string>(count);
        var stripes = new HashSet<int>();
        while (keys.Count < count)
        {
            var key = Key(test, name);
            if (stripes.Add(l1.WriteStripeOf(key)))
            {
                keys.Add(key);
            }
        }

        return [.. keys];
    }

    public static InMemoryTier Memory(string name, TimeProvider? time = null) =>
        new(new InMemoryTierOptions { Name = name, MaximumSize = 1_000_000, TimeProvider = time ?? TimeProvider.System });

    /// <summary>A memory L1 over a faulty memory "remote" L2 (and optionally L3).</summary>
    public static (MultiTierCache Cache, InMemoryTier L1, FaultyTier L2, FaultyTier? L3) Build(
        Action<MultiTierCacheOptions>? configure = null, TimeProvider? time = null, bool withL3 = false)
    {
        time ??= TimeProvider.System;
        var l1 = Memory("L1", time);
        var l2 = new FaultyTier(Memory("L2", time));
        var l3 = withL3 ? new FaultyTier(Memory("L3", time)) : null;
        var options = new MultiTierCacheOptions { TimeProvider = time };
        options.Tiers.Add(l1);
        options.Tiers.Add(l2);
        if (l3 is not null)
        {
            options.Tiers.Add(l3);
        }

        configure?.Invoke(options);
        return (new MultiTierCache(options), l1, l2, l3);
    }

    /// <summary>
    /// Flushes a write-behind cache that runs on a fake clock, advancing the clock in small steps meanwhile: a retry
    /// that fails after the flush has woken the flusher waits out its back-off on that clock, so a plain flush would
    /// wait forever. Gives up (not completed) once the flush's own 20 s have passed on the fake clock.
    /// </summary>
    public static async Task<WriteBehindFlushResult> FlushOnFakeClockAsync(MultiTierCache cache, Microsoft.Extensions.Time.Testing.FakeTimeProvider time)
    {
        var flush = cache.FlushAsync(TimeSpan.FromSeconds(20));
        while (!flush.IsCompleted)
        {
            await Task.WhenAny(flush, Task.Delay(10));
            if (!flush.IsCompleted)
            {
                time.Advance(TimeSpan.FromMilliseconds(100));
            }
        }

        return await flush;
    }

    /// <summary>A fresh path for a write-behind journal in the temp folder.</summary>
    public static string NewJournalPath() => Path.Combine(Path.GetTempPath(), $"taicache-journal-{Guid.NewGuid():N}.db");

    /// <summary>Deletes a journal's files (its WAL, shared memory and lock file too).</summary>
    public static void DeleteJournal(string path)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { path, path + "-wal", path + "-shm", path + ".lock" })
        {
            File.Delete(f);
        }
    }

    /// <summary>Waits (bounded) for a condition that background work makes true.</summary>
    public static async Task Eventually(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("The condition did not become true in time.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Runs <paramref name="run"/>, collects the garbage it left, and counts the unobserved task exceptions
    /// whose message is <paramref name="marker"/> (the event is process-wide: other tests' exceptions are not counted).</summary>
    public static async Task<int> CountUnobservedAsync(string marker, Func<Task> run)
    {
        var unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> handler = (_, e) =>
        {
            if (e.Exception.Flatten().InnerExceptions.Any(x => x.Message == marker))
            {
                Interlocked.Increment(ref unobserved);
            }
        };
        TaskScheduler.UnobservedTaskException += handler;
        try
        {
            await run();
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= handler;
        }

        return Volatile.Read(ref unobserved);
    }
}
