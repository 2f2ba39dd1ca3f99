using System.Globalization;
using BenchmarkDotNet.Running;
using TaiCache.Benchmarks.Tiering;

if (args.Length > 0 && args[0] == "--batch-throughput")
{
    // dotnet run -c Release -- --batch-throughput [seconds per variant per round] [rounds]
    var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 2;
    var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
    await BatchThroughput.RunAsync(seconds, rounds);
    return;
}

if (args.Length > 0 && args[0] is "--write-throughput" or "--read-throughput")
{
    // dotnet run -c Release -- --write-throughput|--read-throughput [seconds per variant]
    await WriteThroughput.RunAsync(args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10, reads: args[0] == "--read-throughput");
    return;
}

if (args.Length > 0 && args[0] == "--batch-decode")
{
    // dotnet run -c Release -- --batch-decode
    BatchDecodeCost.Run();
    return;
}

if (args.Length > 0 && args[0] == "--l1-batch-fill")
{
    // dotnet run -c Release -- --l1-batch-fill [rounds]
    TaiCache.Benchmarks.Memory.L1BatchFill.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7);
    return;
}

if (args.Length > 0 && args[0] == "--l2-latency")
{
    // dotnet run -c Release -- --l2-latency [rounds] [reads per variant per round]
    var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
    var perRound = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2000;
    await L2HitLatency.RunAsync(rounds, perRound);
    return;
}

if (args.Length > 0 && args[0] == "--set-latency")
{
    // dotnet run -c Release -- --set-latency [rounds] [operations per variant per round]
    await SetLatency.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2000);
    return;
}

if (args.Length > 1 && args[0] == "--starved-pool")
{
    // dotnet run -c Release -- --starved-pool ThreadPool|Dedicated [blocked work items] [operation timeout ms]
    await StarvedPoolLatency.RunAsync(
        Enum.Parse<TaiCache.Redis.RedisIoScheduling>(args[1]),
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16,
        TimeSpan.FromMilliseconds(args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5000));
    return;
}

if (args.Length > 0 && args[0] == "--metrics-overhead")
{
    // dotnet run -c Release -- --metrics-overhead [rounds]
    await TaiCache.Benchmarks.Metrics.L1HitMetricsOverhead.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 21);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
