using System.Diagnostics;
using System.Globalization;
using TaiCache.Redis;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>
/// What <see cref="RedisIoScheduling"/> changes while the application starves the thread pool: a burst of work items
/// that each block a pool thread on async work (sync over async, 1 s each) is queued, then 20 <c>GetAsync</c> calls are
/// made one after the other and each is timed. One scheduling per process (<c>--starved-pool ThreadPool</c> or
/// <c>Dedicated</c>), so neither run inherits threads the pool grew for the other.
/// </summary>
internal static class StarvedPoolLatency
{
    private const int Reads = 20;

    public static async Task RunAsync(RedisIoScheduling scheduling, int blockers, TimeSpan timeout)
    {
        using var redis = BenchRedis.Start();
        await using var cache = await RedisCache.ConnectAsync(redis.Endpoint, new RedisCacheOptions { KeyPrefix = $"starved:{Guid.NewGuid():N}:", IoScheduling = scheduling, OperationTimeout = timeout });
        await cache.SetAsync("k", Product.Sample(1));
        for (var i = 0; i < 200; i++)
        {
            _ = await cache.GetAsync<Product>("k");
        }

        ThreadPool.GetMinThreads(out var minWorkers, out _);
        var blocked = Enumerable.Range(0, blockers).Select(_ => Task.Run(() => Task.Delay(1000).Wait())).ToArray();
        var started = Stopwatch.GetTimestamp();
        var times = new List<double>(Reads);
        var failed = new List<string>();
        for (var i = 0; i < Reads; i++)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                var read = await cache.GetAsync<Product>("k");
                if (read.Value.Id != 1)
                {
                    throw new InvalidOperationException("wrong value");
                }
            }
            catch (CacheException e)
            {
                failed.Add(e.GetType().Name);
            }

            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await Task.WhenAll(blocked);
        times.Sort();
        Console.WriteLine("| scheduling | blocked work items | timeout (ms) | min pool threads | fastest read (ms) | median (ms) | slowest (ms) | all 20 reads (ms) | failed reads |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {scheduling} | {blockers} | {timeout.TotalMilliseconds:F0} | {minWorkers} | {times[0]:F2} | {times[Reads / 2]:F2} | {times[^1]:F1} | {total:F0} | {failed.Count} {string.Join(",", failed.Distinct())} |"));
    }
}
