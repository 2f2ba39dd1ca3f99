// A peer process for TaiCache's two-process tests. Protocol: one command per stdin line, one reply per stdout line.
//
//   coherence <redis-connection-string> <namespace> <instance-id>
//       prints "READY" once subscribed; then reads commands:
//         set <key>      -> stores the key in its local tier, prints "SET <key>"
//         has <key>      -> prints "HAS <key> true|false"
//         exit           -> quits
//       and prints "EVICTED <key>" whenever a remote invalidation evicted a key, "RESYNC <reason>" on a resync.
//   sqlite-set <file> <key> <value>
//       writes one string into a SqliteTier file and prints "DONE".
//   sqlite-get <file> <key>
//       prints "VALUE <value>" or "MISS".
using StackExchange.Redis;
using TaiCache;
using TaiCache.Sqlite;
using TaiCache.Tiering.Coherence;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: coherence <redis> <namespace> <id> | sqlite-set <file> <key> <value> | sqlite-get <file> <key>");
    return 2;
}

switch (args[0])
{
    case "coherence":
        return await RunCoherenceAsync(args[1], args[2], args[3]);
    case "sqlite-set":
        await using (var tier = new SqliteTier(new SqliteTierOptions { FilePath = args[1], SweepInterval = null }))
        {
            await tier.SetAsync(args[2], args[3]);
        }

        Console.WriteLine("DONE");
        return 0;
    case "sqlite-get":
        await using (var tier = new SqliteTier(new SqliteTierOptions { FilePath = args[1], SweepInterval = null }))
        {
            var result = await tier.GetAsync<string>(args[2]);
            Console.WriteLine(result.HasValue ? $"VALUE {result.Value}" : "MISS");
        }

        return 0;
    default:
        Console.Error.WriteLine($"unknown command {args[0]}");
        return 2;
}

static async Task<int> RunCoherenceAsync(string connectionString, string ns, string instanceId)
{
    var output = TextWriter.Synchronized(Console.Out);
    await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(connectionString);
    await using var tier = new InMemoryTier();
    await using var coherence = new CacheCoherence(multiplexer, tier, new CacheCoherenceOptions { Namespace = ns, InstanceId = instanceId });
    coherence.RemoteInvalidation += (_, e) =>
    {
        foreach (var key in e.Keys)
        {
            output.WriteLine($"EVICTED {key}");
        }
    };
    coherence.Resynchronized += (_, e) => output.WriteLine($"RESYNC {e.Reason}");
    await coherence.StartAsync();
    output.WriteLine("READY");

    while (await Console.In.ReadLineAsync() is { } line)
    {
        var parts = line.Split(' ', 2);
        switch (parts[0])
        {
            case "set":
                tier.Set(parts[1], "peer-value");
                output.WriteLine($"SET {parts[1]}");
                break;
            case "has":
                output.WriteLine($"HAS {parts[1]} {(tier.TryGet<string>(parts[1], out _) ? "true" : "false")}");
                break;
            case "exit":
                return 0;
        }
    }

    return 0;
}
