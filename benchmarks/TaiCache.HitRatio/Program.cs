using System.Diagnostics;
using System.Globalization;
using TaiCache.HitRatio;

// Replays a block trace (ARC format: "start_block num_blocks ignored ignored" per line) against TaiCache's
// InMemoryTier and its peers, and prints the hit ratio of each per cache size.
//
// The OLTP and P3 traces in ../shared/traces come from the ARC paper and may only be used with this citation:
// Nimrod Megiddo and Dharmendra S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache," USENIX Conference on
// File and Storage Technologies (FAST 03), San Francisco, CA, pp. 115-130, March 31-April 2, 2003.

if (args.Length >= 1 && args[0] == "--throughput")
{
    HitThroughput.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10);
    return 0;
}

if (args.Length >= 1 && args[0] == "--memory")
{
    MemoryOverhead.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000);
    return 0;
}

var batched = 0;
if (args.Length >= 2 && args[0] == "--batched")
{
    // TaiCache.HitRatio --batched <accesses per batch> <trace> <size...>: TaiCache one access at a time and in batches.
    batched = int.Parse(args[1], CultureInfo.InvariantCulture);
    args = args[2..];
}

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: TaiCache.HitRatio <trace.lis | trace.lis.zst | --synthetic> <size> [size...]");
    Console.Error.WriteLine("  .zst files are decompressed with the zstd CLI (must be on PATH); gzip files are read directly, as are plain ones.");
    Console.Error.WriteLine("  One request per line, 'start_block num_blocks [ignored...]', any whitespace; blank and '#' lines are skipped.");
    Console.Error.WriteLine("       TaiCache.HitRatio --batched <accesses per batch> <trace> <size...>   (TaiCache fed batch by batch, as a batch read-through fills L1)");
    Console.Error.WriteLine("       TaiCache.HitRatio --throughput [rounds]   (hit throughput in CPU time, interleaved, best round)");
    Console.Error.WriteLine("       TaiCache.HitRatio --memory [entries]   (bytes of overhead per entry, default 1,000,000 entries)");
    Console.Error.WriteLine("  --synthetic: Zipf(0.99) over 100,000 keys, 2,000,000 requests, with a one-off scan of 200,000 new keys mid-way.");
    Console.Error.WriteLine("  --drift: Zipf(0.7) over 100,000 ranks on 200,000 keys, the hot set moving every 150,000 of 1,500,000 requests.");
    Console.Error.WriteLine("  --loop:<keys>: the keys 0..keys-1 read in order, 40 passes (LRU's worst case when keys exceed the size).");
    Console.Error.WriteLine("  --stack:<c>[:<new share>]: LRU stack model, 1,000,000 requests, each a new key with probability <new share> (default 0.2),");
    Console.Error.WriteLine("      else a re-request at a depth drawn from [0.9c, 1.0c) of the stack of recent keys (an LRU of c entries hits every re-request).");
    foreach (var (name, description) in Workloads.Descriptions)
    {
        Console.Error.WriteLine($"  --workload:{name}: {description}.");
    }

    return 2;
}

// BitFaster's ConcurrentLru, one of the peers replayed beside TaiCache, needs at least 3 entries.
var badSize = args.Skip(1).FirstOrDefault(s => !int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 3);
if (badSize is not null)
{
    Console.Error.WriteLine($"error: cache size '{badSize}' is not an integer of 3 or more (the smallest size every replayed policy takes).");
    return 2;
}

var sizes = args.Skip(1).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var sw = Stopwatch.StartNew();
AccessTrace trace;
try
{
    trace = args[0] == "--synthetic" ? AccessTrace.Synthetic(100_000, 0.99, 2_000_000, 200_000, seed: 42)
        : args[0] == "--drift" ? AccessTrace.Drift(seed: 42)
        : args[0].StartsWith("--loop:", StringComparison.Ordinal) ? AccessTrace.Loop(int.Parse(args[0]["--loop:".Length..], NumberStyles.None, CultureInfo.InvariantCulture), passes: 40)
        : args[0].StartsWith("--stack:", StringComparison.Ordinal) ? StackModel(args[0]["--stack:".Length..])
        : args[0].StartsWith("--workload:", StringComparison.Ordinal) ? (Workloads.TryCreate(args[0]["--workload:".Length..], out var generated) ? generated : throw new InvalidDataException($"unknown workload '{args[0]["--workload:".Length..]}'; known: {string.Join(", ", Workloads.Descriptions.Keys)}"))
        : AccessTrace.Load(args[0]);
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
{
    // The messages name the file (and the line, for a malformed trace).
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

var synthetic = args[0].StartsWith("--", StringComparison.Ordinal);
var workload = args[0].StartsWith("--workload:", StringComparison.Ordinal) ? Workloads.Descriptions[args[0]["--workload:".Length..]] : null;
Console.WriteLine($"trace {(args[0] == "--synthetic" ? "synthetic Zipf 0.99 + scan" : args[0] == "--drift" ? "Zipf 0.7 whose hot set moves every 150,000 requests" : args[0].StartsWith("--stack:", StringComparison.Ordinal) ? $"LRU stack model {args[0]["--stack:".Length..]}, re-requests at depth [0.9c, 1.0c)" : workload ?? (synthetic ? $"loop over {trace.Keys.Length:N0} keys, 40 passes" : Path.GetFileName(args[0])))}: {trace.Ids.Length:N0} accesses, {trace.Keys.Length:N0} distinct keys (loaded in {sw.Elapsed.TotalSeconds:F1} s)");
// Only the ARC paper's traces carry its citation; a user's own trace is theirs.
if (!synthetic && Path.GetFileName(args[0]).Split('.')[0] is "OLTP" or "P1" or "P2" or "P3" or "P4" or "P5" or "P6" or "P7" or "P8" or "P9" or "P10" or "P11" or "P12" or "P13" or "P14" or "DS1" or "S1" or "S2" or "S3" or "ConCat" or "MergeP" or "MergeS" or "spc1likeread")
{
    Console.WriteLine("Trace from the ARC paper: N. Megiddo and D. S. Modha, \"ARC: A Self-Tuning, Low Overhead Replacement Cache\", FAST 2003.");
}

Console.WriteLine();
if (batched > 0)
{
    Console.WriteLine($"| size | TaiCache, one access at a time | TaiCache, batches of {batched} (lookups, then one copy of the misses) | LRU |");
    Console.WriteLine("| ---: | ---: | ---: | ---: |");
    foreach (var size in sizes)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {size} | {Policies.TaiCache(trace, size, out _):F2} | {Policies.TaiCacheBatched(trace, size, batched):F2} | {Policies.ExactLru(trace, size):F2} |"));
    }

    return 0;
}

Console.WriteLine($"| {"size",8} | {"TaiCache",8} | {"LRU",8} | {"BF Lru",8} | {"BF Lfu",8} | {"MemCache",8} | {"Belady",8} | TaiCache - max(LRU, BF Lfu) |");
Console.WriteLine($"| {new string('-', 8)}:| {new string('-', 8)}:| {new string('-', 8)}:| {new string('-', 8)}:| {new string('-', 8)}:| {new string('-', 8)}:| {new string('-', 8)}:| ---: |");
foreach (var size in sizes)
{
    var tai = Policies.TaiCache(trace, size, out var window);

    var lru = Policies.ExactLru(trace, size);
    var bfLru = Policies.BitFasterLru(trace, size);
    var bfLfu = Policies.BitFasterLfu(trace, size);
    var mc = Policies.MemoryCache(trace, size);
    var opt = Policies.Belady(trace, size);
    var margin = tai - Math.Max(lru, bfLfu);
    Console.WriteLine($"| {size,8} | {tai,8:F2} | {lru,8:F2} | {bfLru,8:F2} | {bfLfu,8:F2} | {mc,8:F2} | {opt,8:F2} | {margin,+6:+0.00;-0.00} (window {window}) |");
}

return 0;

// --stack:<c>[:<new share>], seed 5 (the probe's).
static AccessTrace StackModel(string spec)
{
    var parts = spec.Split(':');
    if (parts.Length > 2
        || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var capacity) || capacity < 10
        || (parts.Length == 2 && (!double.TryParse(parts[1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var share) || share is <= 0 or >= 1)))
    {
        throw new InvalidDataException($"--stack:{spec}: expected --stack:<capacity of 10 or more>[:<new share between 0 and 1>]");
    }

    return AccessTrace.Stack(capacity, parts.Length == 2 ? double.Parse(parts[1], CultureInfo.InvariantCulture) : 0.2, seed: 5);
}
