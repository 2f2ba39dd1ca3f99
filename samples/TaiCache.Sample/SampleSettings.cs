namespace TaiCache.Sample;

/// <summary>What the sample runs against, from the command line and the environment.</summary>
internal sealed record SampleSettings(string? RedisConnection, string DataFile, int MetricsPort, bool Quiet)
{
    public static SampleSettings Parse(string[] args)
    {
        string? redis = Environment.GetEnvironmentVariable("TAICACHE_REDIS");
        var data = DefaultDataFile();
        var port = 9464;
        var quiet = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--redis" when i + 1 < args.Length:
                    redis = args[++i];
                    break;
                case "--data" when i + 1 < args.Length:
                    data = args[++i];
                    break;
                case "--metrics-port" when i + 1 < args.Length:
                    port = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "--quiet":
                    quiet = true;
                    break;
                case "--help" or "-h":
                    Console.WriteLine("""
                        TaiCache sample
                          --redis <connection>   add Redis as L2 (or set TAICACHE_REDIS), e.g. 127.0.0.1:6379
                          --data <file>          the SQLite L3 file (default: <local app data>/taicache-sample/l3.db)
                          --metrics-port <port>  Prometheus scrape port on 127.0.0.1 (default 9464; 0 = off)
                        """);
                    Environment.Exit(0);
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'; try --help.");
            }
        }

        return new SampleSettings(string.IsNullOrWhiteSpace(redis) ? null : redis, data, port, quiet);
    }

    /// <summary>
    /// The L3 file in this user's own data folder (~/.local/share on Linux), not in the temp folder all users share:
    /// there another user's file of the same name would be unreadable, or read as this user's cache. The temp folder
    /// only when the user has no home.
    /// </summary>
    private static string DefaultDataFile()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, "taicache-sample", "l3.db");
    }
}
