// The TaiCache sample: an in-memory L1 over a persistent SQLite L3 (no server needed), with Redis as L2 when a
// connection string is given (--redis host:port or TAICACHE_REDIS). It shows warming, read-through with stampede
// protection, batch read-through, eager refresh, write-behind, a dependency cascade with its receipt, and a
// metrics/SLO table; metrics are scrapeable in Prometheus format while it runs.
using TaiCache.Tiering;
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using TaiCache;
using TaiCache.Invalidation;
using TaiCache.Metrics;
using TaiCache.Redis;
using TaiCache.Sample;
using TaiCache.Sqlite;
using TaiCache.Tiering.Warming;

var settings = SampleSettings.Parse(args);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
var ct = cancel.Token;

// Metrics: one collector per tier, published on the "TaiCache" Meter; OpenTelemetry exports them for Prometheus.
using var meters = Telemetry.StartPrometheus(settings.MetricsPort, out var scrapeUrl);
var l1Metrics = new MetricsCollector("sample", "L1");
var l2Metrics = new MetricsCollector("sample", "L2");
var l3Metrics = new MetricsCollector("sample", "L3");

// The tiers, fastest first.
var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 1_000, Metrics = l1Metrics });
RedisCache? l2 = settings.RedisConnection is { } connection
    ? await RedisCache.ConnectAsync(connection, new RedisCacheOptions { Name = "L2", KeyPrefix = "taicache-sample:", Metrics = l2Metrics }, ct)
    : null;
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.DataFile))!);
var l3 = new SqliteTier(new SqliteTierOptions { Name = "L3", FilePath = settings.DataFile, Metrics = l3Metrics });

var options = new MultiTierCacheOptions { Name = "sample" };
options.Tiers.Add(l1);
if (l2 is not null)
{
    options.Tiers.Add(l2);
}

options.Tiers.Add(l3);
await using var cache = new MultiTierCache(options);
var collectors = l2 is null ? new[] { l1Metrics, l3Metrics } : new[] { l1Metrics, l2Metrics, l3Metrics };

Console.WriteLine($"TaiCache sample: L1 memory{(l2 is null ? string.Empty : " + L2 Redis")} + L3 SQLite ({Path.GetFullPath(settings.DataFile)})");
Console.WriteLine(scrapeUrl is null ? "Metrics endpoint: off" : $"Metrics endpoint: {scrapeUrl} (Prometheus text format, while the sample runs)");

// 0. L3 persists across runs: a counter read from disk, written back.
var runs = (await cache.GetAsync<int>("sample:runs", ct)).GetValueOrDefault(0) + 1;
await cache.SetAsync("sample:runs", runs, cancellationToken: ct);
Console.WriteLine($"\n[0] This is run #{runs} against this L3 file (the count survives restarts).");

// 1. Warming: preload the 500 hottest products with bounded concurrency and a progress bar.
Console.WriteLine("\n[1] Warming 500 products");
var warmer = new CacheWarmer(cache, new CacheWarmerOptions { MaxConcurrency = 8, Ttl = TimeSpan.FromMinutes(10) });
var summary = await warmer.WarmAsync(
    Enumerable.Range(1, 500).Select(id => $"product:{id}"),
    (key, token) => Catalog.LoadAsync(int.Parse(key.AsSpan("product:".Length), System.Globalization.CultureInfo.InvariantCulture), token),
    new ConsoleProgressBar(),
    ct);
Console.WriteLine($"\n    {summary}");

// 2. Read-through: a skewed read stream; the factory runs only on misses, once per key even under a stampede.
Console.WriteLine("\n[2] Read-through: 10,000 skewed reads over 2,000 products (L1 holds 1,000)");
var loadsBefore = Catalog.Loads;
var random = new Random(42);
var watch = Stopwatch.StartNew();
for (var i = 0; i < 10_000; i++)
{
    var id = (int)Math.Min(2_000, Math.Floor(Math.Pow(random.NextDouble(), 3) * 2_000) + 1);
    _ = await cache.GetOrSetAsync($"product:{id}", id, static (id, token) => Catalog.LoadAsync(id, token), cancellationToken: ct);
}

Console.WriteLine($"    {watch.Elapsed.TotalMilliseconds:F0} ms, {Catalog.Loads - loadsBefore} loads from the catalog for 10,000 reads");
var stampedeKey = $"product:cold:{Guid.NewGuid():N}";
loadsBefore = Catalog.Loads;
await Task.WhenAll(Enumerable.Range(0, 1_000).Select(_ =>
    cache.GetOrSetAsync(stampedeKey, static token => Catalog.LoadAsync(99_999, token), cancellationToken: ct).AsTask()));
Console.WriteLine($"    Stampede: 1,000 concurrent readers of one cold key -> the catalog was asked {Catalog.Loads - loadsBefore} time(s)");

// Batch read-through: each tier read once for the whole batch, then one catalog query for only the keys none holds.
var batch = Enumerable.Range(491, 10).Concat(Enumerable.Range(100_000 + (runs * 10), 10)).Select(id => $"product:{id}").ToArray(); // 10 warmed, 10 new to this run
var queriesBefore = Catalog.Queries;
var cachedBefore = 0;
foreach (var key in batch)
{
    cachedBefore += await cache.ExistsAsync(key, ct) ? 1 : 0;
}

var products = await cache.GetOrSetManyAsync(batch, Catalog.LoadManyAsync, cancellationToken: ct);
Console.WriteLine($"    Batch of {batch.Length}: {cachedBefore} from the tiers, {products.Count - cachedBefore} loaded in {Catalog.Queries - queriesBefore} catalog query (GetOrSetManyAsync)");

// Eager refresh: a value read late in its TTL is returned at once and refreshed in the background.
var rates = 0;
var eager = new MultiTierEntryOptions { Ttl = TimeSpan.FromSeconds(2), EagerRefreshThreshold = 0.5 };
ValueTask<string> LoadRates(CancellationToken _) => ValueTask.FromResult($"rates v{Interlocked.Increment(ref rates)}");
var ratesKey = $"rates:{Guid.NewGuid():N}";
await cache.GetOrSetAsync(ratesKey, LoadRates, eager, ct);
await Task.Delay(TimeSpan.FromSeconds(1.2), ct); // past half of the 2 s TTL
var read = cache.GetOrSetAsync(ratesKey, LoadRates, eager, ct);
var atOnce = read.IsCompleted; // an L1 hit: the refresh runs behind it
var held = await read;
var giveUp = DateTime.UtcNow.AddSeconds(5);
while ((Volatile.Read(ref rates) < 2 || (await cache.GetAsync<string>(ratesKey, ct)).Value == held) && DateTime.UtcNow < giveUp)
{
    await Task.Delay(5, ct);
}

Console.WriteLine($"    Eager refresh: '{held}' served {(atOnce ? "at once" : "after a wait")} at 60% of its TTL, refreshed behind it; next read: '{(await cache.GetAsync<string>(ratesKey, ct)).Value}'");

// 3. Write-behind: acknowledged after L1, carried down by a bounded, coalescing queue; FlushAsync drains it.
Console.WriteLine("\n[3] Write-behind: 2,000 price updates");
var behindOptions = new MultiTierCacheOptions { Name = "sample-write-behind", WriteStrategy = WriteStrategy.WriteBehind, OwnsTiers = false };
foreach (var tier in options.Tiers)
{
    behindOptions.Tiers.Add(tier);
}

await using (var writeBehind = new MultiTierCache(behindOptions))
{
    watch.Restart();
    for (var i = 0; i < 2_000; i++)
    {
        var id = (i % 500) + 1;
        await writeBehind.SetAsync($"product:{id}", new Product(id, $"Product {id}", 20m + i, []), TimeSpan.FromMinutes(10), ct);
    }

    var acknowledged = watch.Elapsed;
    var flushed = await writeBehind.FlushAsync(TimeSpan.FromSeconds(30), ct);
    Console.WriteLine($"    acknowledged in {acknowledged.TotalMilliseconds:F0} ms (returned after L1); flush {(flushed.Completed ? "completed" : "INCOMPLETE")}: {flushed.Written} tier writes after coalescing, {flushed.DeadLettered} dead-lettered, {flushed.PendingCount} pending");
}

// 4. A dependency cascade: the home page depends on a product, which depends on the price list.
Console.WriteLine("\n[4] Dependency cascade");
await using (var invalidation = new InvalidationManager([cache]))
{
    await cache.SetAsync("prices:eu", "v1", cancellationToken: ct);
    await cache.SetAsync("page:home", "<html>…</html>", cancellationToken: ct);
    await invalidation.AddDependencyAsync("product:1", "prices:eu", ct);
    await invalidation.AddDependencyAsync("page:home", "product:1", ct);
    var receipt = await invalidation.InvalidateAsync("prices:eu", ct);
    Console.WriteLine($"    receipt {receipt.Id:N}: trigger {receipt.Trigger} '{receipt.TriggerValue}', strategy {receipt.Strategy}, {receipt.Keys.Count} key(s) in {receipt.Duration.TotalMilliseconds:F2} ms");
    foreach (var removed in receipt.Keys)
    {
        Console.WriteLine($"      {removed.Key,-12} via {string.Join(" -> ", removed.Path)}");
    }

    Console.WriteLine($"    page:home still cached? {(await cache.ExistsAsync("page:home", ct) ? "yes" : "no")}");
}

// 5. Metrics and SLOs, per tier.
Console.WriteLine("\n[5] Metrics and SLOs");
var slo = new SloChecker();
Console.WriteLine(MetricsReportFormatter.FormatTable(collectors.Select(c => c.GetSnapshot()), collectors.Select(slo.Check)));
if (scrapeUrl is not null)
{
    Console.WriteLine($"Scrape {scrapeUrl} while an app runs (this sample exits now).");
}

Console.WriteLine("Done.");
