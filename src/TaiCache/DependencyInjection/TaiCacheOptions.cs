using TaiCache.Tiering;
using System.Globalization;
using TaiCache.Serialization;

namespace TaiCache.DependencyInjection;

/// <summary>
/// Options of one cache registered with <c>AddTaiCache</c> (named options; the name is the cache's name). Bound from
/// the configuration section <c>TaiCache:Caches:{name}</c> and validated when the application starts.
/// </summary>
/// <remarks>
/// Settings marked "code only" hold objects (connections, delegates, serializers) that configuration cannot express;
/// set them through <see cref="TaiCacheBuilder"/>.
/// </remarks>
public sealed class TaiCacheOptions
{
    /// <summary>The name of the cache <c>AddTaiCache()</c> registers when given none.</summary>
    public const string DefaultName = "default";

    /// <summary>The configuration section that holds one subsection per cache name.</summary>
    public const string CachesSection = "TaiCache:Caches";

    /// <summary>Gets or sets the L1 in-memory tier settings.</summary>
    public TaiCacheMemorySettings Memory { get; set; } = new();

    /// <summary>Gets or sets the Redis tier settings.</summary>
    public TaiCacheRedisSettings Redis { get; set; } = new();

    /// <summary>Gets or sets the memcached tier settings.</summary>
    public TaiCacheMemcachedSettings Memcached { get; set; } = new();

    /// <summary>Gets or sets the SQLite tier settings.</summary>
    public TaiCacheSqliteSettings Sqlite { get; set; } = new();

    /// <summary>Gets or sets the L1 coherence settings.</summary>
    public TaiCacheCoherenceSettings Coherence { get; set; } = new();

    /// <summary>Gets or sets how writes go down the tiers. Default <see cref="TaiCache.Tiering.WriteStrategy.WriteThrough"/>.</summary>
    public WriteStrategy WriteStrategy { get; set; } = WriteStrategy.WriteThrough;

    /// <summary>Gets or sets how reads fill the tiers. Default <see cref="TaiCache.Tiering.ReadStrategy.ReadThrough"/>.</summary>
    public ReadStrategy ReadStrategy { get; set; } = ReadStrategy.ReadThrough;

    /// <summary>Gets or sets the time to live used when a call gives none; <see langword="null"/> (the default) for each tier's default.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets the time to live in L1 when a call gives none (usually shorter than <see cref="DefaultTtl"/>); <see langword="null"/> to use <see cref="DefaultTtl"/>.</summary>
    public TimeSpan? LocalTtl { get; set; }

    /// <summary>
    /// Gets or sets the share of <see cref="DefaultTtl"/> after which a read-through refreshes a value in the background
    /// (<see cref="MultiTierEntryOptions.EagerRefreshThreshold"/>), between 0 and 1; <see langword="null"/> (the default) never does.
    /// </summary>
    public double? EagerRefreshThreshold { get; set; }

    /// <summary>Gets or sets a value indicating whether a value may be served after its TTL when the tiers and the factory fail (<see cref="MultiTierEntryOptions.AllowStaleOnFailure"/>). Default <see langword="false"/>.</summary>
    public bool AllowStaleOnFailure { get; set; }

    /// <summary>Gets or sets how long a value is kept for fail-safe reads (<see cref="MultiTierEntryOptions.FailSafeMaxDuration"/>); <see langword="null"/> (the default) for one hour.</summary>
    public TimeSpan? FailSafeMaxDuration { get; set; }

    /// <summary>Gets or sets the longest a read-through waits for its factory (<see cref="MultiTierEntryOptions.FactoryTimeout"/>); <see langword="null"/> (the default) waits.</summary>
    public TimeSpan? FactoryTimeout { get; set; }

    /// <summary>Gets or sets the longest a factory may run before its load is abandoned (<see cref="MultiTierEntryOptions.FactoryHardTimeout"/>); <see langword="null"/> (the default) lets it run.</summary>
    public TimeSpan? FactoryHardTimeout { get; set; }

    /// <summary>Gets or sets the longest a call to a lower tier may take before a read moves on; <see langword="null"/> (the default) for each tier's own timeout.</summary>
    public TimeSpan? TierTimeout { get; set; }

    /// <summary>Gets or sets a value indicating whether a write-through write that a lower tier refuses still succeeds elsewhere. Default <see langword="false"/>.</summary>
    public bool BestEffortWrites { get; set; }

    /// <summary>Gets or sets the serializer of the tiers that store bytes. Default <see cref="TaiCacheSerializerKind.MessagePack"/>.</summary>
    public TaiCacheSerializerKind Serializer { get; set; } = TaiCacheSerializerKind.MessagePack;

    /// <summary>Gets or sets a serializer that replaces <see cref="Serializer"/> (code only, not bound).</summary>
    public ICacheSerializer? CustomSerializer { get; set; }

    /// <summary>Gets or sets the smallest payload compressed with LZ4; <see langword="null"/> never compresses. Default 1,024 bytes.</summary>
    public int? CompressionThresholdBytes { get; set; } = 1024;

    /// <summary>
    /// Gets or sets a value indicating whether each tier records metrics (a <see cref="Metrics.MetricsCollector"/> per
    /// tier, published on the <c>TaiCache</c> meter). Default <see langword="true"/>.
    /// </summary>
    public bool EnableMetrics { get; set; } = true;

    /// <summary>Gets or sets a hook run on the multi-tier options after everything above is applied (code only, not bound).</summary>
    public Action<MultiTierCacheOptions>? ConfigureMultiTier { get; set; }

    /// <summary>Lists every problem with these options, each naming the configuration key at fault.</summary>
    /// <param name="path">The configuration path of the cache, such as <c>TaiCache:Caches:default</c>.</param>
    /// <returns>The problems; empty when the options are valid.</returns>
    internal List<string> Check(string path)
    {
        var errors = new List<string>();
        void Fail(string key, string message) => errors.Add($"{path}:{key} {message}");

        if (Memory is null || Redis is null || Memcached is null || Sqlite is null || Coherence is null)
        {
            errors.Add($"{path}: the Memory, Redis, Memcached, Sqlite and Coherence sections must not be null.");
            return errors;
        }

        if (!Memory.Enabled && !Redis.IsEnabled && !Memcached.IsEnabled && !Sqlite.IsEnabled)
        {
            errors.Add($"{path}: the cache has no tier; enable Memory, or set Redis:ConnectionString, Memcached:Servers or Sqlite:Path.");
        }

        // A hook on a tier that is not built never runs: a TLS ConfigurationOptions given through Redis.Configure without
        // Redis:ConnectionString built a cache without Redis, silently.
        if (Redis.Configure is not null && !Redis.IsEnabled)
        {
            Fail("Redis:ConnectionString", "must be set (or Redis.Multiplexer given) when Redis.Configure is: without it no Redis tier is built and Configure never runs (a Configuration set there wins over the connection string).");
        }

        if (Memcached.Configure is not null && !Memcached.IsEnabled)
        {
            Fail("Memcached:Servers", "must list a server when Memcached.Configure is set: without one no memcached tier is built and Configure never runs.");
        }

        if (Sqlite.Configure is not null && !Sqlite.IsEnabled)
        {
            Fail("Sqlite:Enabled", "must be true (or Sqlite:Path set) when Sqlite.Configure is set: otherwise no SQLite tier is built and Configure never runs.");
        }

        if (Memory.Configure is not null && !Memory.Enabled)
        {
            Fail("Memory:Enabled", "is false while Memory.Configure is set: no memory tier is built and Configure never runs.");
        }

        if (Memory.Enabled)
        {
            if (Memory.MaximumSize <= 0)
            {
                Fail("Memory:MaximumSize", $"must be positive (was {Memory.MaximumSize.ToString(CultureInfo.InvariantCulture)}).");
            }

            CheckTtl(Memory.DefaultTtl, "Memory:DefaultTtl");
            CheckTtl(Memory.SlidingExpiration, "Memory:SlidingExpiration");
        }

        if (Redis.IsEnabled)
        {
            if (Redis.Multiplexer is null && !string.IsNullOrWhiteSpace(Redis.ConnectionString))
            {
                try
                {
                    if (StackExchange.Redis.ConfigurationOptions.Parse(Redis.ConnectionString).EndPoints.Count == 0)
                    {
                        Fail("Redis:ConnectionString", "names no server: give at least one host:port, such as localhost:6379.");
                    }
                }
                catch (ArgumentException)
                {
                    // Never echo the connection string: it may hold a password.
                    Fail("Redis:ConnectionString", "cannot be parsed as a StackExchange.Redis connection string.");
                }
            }

            if (Redis.OperationTimeout <= TimeSpan.Zero || Redis.OperationTimeout > TimeSpan.FromMinutes(10))
            {
                Fail("Redis:OperationTimeout", "must be positive and at most 10 minutes.");
            }

            if (!Enum.IsDefined(Redis.IoScheduling))
            {
                // The binder takes a number for an enum: "7" bound, and only building the cache refused it.
                Fail("Redis:IoScheduling", "is not Dedicated or ThreadPool.");
            }

            CheckTtl(Redis.DefaultTtl, "Redis:DefaultTtl");
            CheckKeyPrefix(Redis.KeyPrefix, "Redis:KeyPrefix", TaiCache.Redis.RedisCacheOptions.KeyPrefixProblem);
        }

        if (Memcached.IsEnabled)
        {
            // A server listed twice is refused by MemcachedCacheOptions.Validate too, but that names the option in code
            // (MemcachedCacheOptions.Servers), not the configuration key the user wrote: found here first, by that key.
            var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < Memcached.Servers.Count; i++)
            {
                var at = $"Memcached:Servers:{i.ToString(CultureInfo.InvariantCulture)}";
                try
                {
                    var server = Memcached.Servers[i] is null ? throw new FormatException() : TaiCache.Memcached.MemcachedServer.Parse(Memcached.Servers[i]);
                    if (seen.TryGetValue(server.ToString(), out var first))
                    {
                        Fail(at, $"names the same server as {path}:Memcached:Servers:{first.ToString(CultureInfo.InvariantCulture)} ({server}); list each server once and give it a larger weight (host:port:weight) for more of the keys.");
                    }
                    else
                    {
                        seen[server.ToString()] = i;
                    }
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    Fail(at, "is not host, host:port or host:port:weight.");
                }
            }

            if (Memcached.OperationTimeout <= TimeSpan.Zero || Memcached.OperationTimeout > TimeSpan.FromDays(1))
            {
                Fail("Memcached:OperationTimeout", "must be positive and at most 1 day.");
            }

            if (!Enum.IsDefined(Memcached.FailoverPolicy))
            {
                Fail("Memcached:FailoverPolicy", "is not a known policy.");
            }

            CheckTtl(Memcached.DefaultTtl, "Memcached:DefaultTtl");
            CheckKeyPrefix(Memcached.KeyPrefix, "Memcached:KeyPrefix", TaiCache.Memcached.MemcachedCacheOptions.KeyPrefixProblem);
        }

        if (Sqlite.IsEnabled)
        {
            if (Sqlite.Path is not null && string.IsNullOrWhiteSpace(Sqlite.Path))
            {
                Fail("Sqlite:Path", "must be a file path, or absent for the default location.");
            }

            CheckTtl(Sqlite.DefaultTtl, "Sqlite:DefaultTtl");
            CheckTtl(Sqlite.SweepInterval, "Sqlite:SweepInterval");
            if (Sqlite.SweepInterval > TaiCache.Sqlite.SqliteTierOptions.MaxSweepInterval)
            {
                Fail("Sqlite:SweepInterval", "must be at most 49 days (a timer's longest period).");
            }
        }

        if (Coherence.Enabled)
        {
            if (!Memory.Enabled || !Redis.IsEnabled)
            {
                Fail("Coherence:Enabled", "needs an L1 memory tier (Memory:Enabled) and a Redis tier (Redis:ConnectionString).");
            }

            if (Coherence.HeartbeatInterval <= TimeSpan.Zero || Coherence.HeartbeatInterval > TaiCache.Tiering.Coherence.CacheCoherenceOptions.MaximumHeartbeatInterval)
            {
                Fail("Coherence:HeartbeatInterval", "must be positive and at most 49 days (a timer's longest period).");
            }
            else if (Coherence.MissedHeartbeatsBeforeResync < 2 || Coherence.HeartbeatInterval.Ticks * (double)Coherence.MissedHeartbeatsBeforeResync >= TimeSpan.MaxValue.Ticks)
            {
                Fail("Coherence:MissedHeartbeatsBeforeResync", "must be at least 2, and times Coherence:HeartbeatInterval fit in a TimeSpan.");
            }

            if (Coherence.PublishTimeout <= TimeSpan.Zero || Coherence.PublishTimeout > TaiCache.Tiering.Coherence.CacheCoherenceOptions.MaximumPublishTimeout)
            {
                Fail("Coherence:PublishTimeout", "must be positive and at most 1 hour.");
            }

            if (Coherence.Namespace is { } coherenceNamespace && (string.IsNullOrWhiteSpace(coherenceNamespace) || coherenceNamespace.Any(char.IsControl)))
            {
                Fail("Coherence:Namespace", "must be non-empty text without control characters, or absent for the cache's name.");
            }
        }

        if (!Enum.IsDefined(WriteStrategy))
        {
            Fail("WriteStrategy", "is not WriteThrough or WriteBehind.");
        }

        if (!Enum.IsDefined(ReadStrategy))
        {
            Fail("ReadStrategy", "is not ReadThrough or LazyLoad.");
        }

        if (!Enum.IsDefined(Serializer))
        {
            Fail("Serializer", "is not MessagePack or SystemTextJson.");
        }

        CheckTtl(DefaultTtl, "DefaultTtl");
        CheckTtl(LocalTtl, "LocalTtl");
        if (LocalTtl is { } local && DefaultTtl is { } lower && local > lower)
        {
            Fail("LocalTtl", $"({local}) must not be longer than DefaultTtl ({lower}): L1's copies would outlive the values in the tiers below.");
        }

        CheckTtl(TierTimeout, "TierTimeout");
        if (EagerRefreshThreshold is { } eager && !(eager > 0 && eager < 1))
        {
            Fail("EagerRefreshThreshold", $"must be between 0 and 1 (exclusive), a share of DefaultTtl, or absent for none (was {eager.ToString(CultureInfo.InvariantCulture)}).");
        }

        CheckTtl(FailSafeMaxDuration, "FailSafeMaxDuration");
        CheckTtl(FactoryTimeout, "FactoryTimeout");
        CheckTtl(FactoryHardTimeout, "FactoryHardTimeout");
        if (FactoryHardTimeout is { } hard && FactoryTimeout is { } soft && hard < soft)
        {
            Fail("FactoryHardTimeout", $"({hard}) must not be shorter than FactoryTimeout ({soft}).");
        }

        if (CompressionThresholdBytes is < 0)
        {
            Fail("CompressionThresholdBytes", "must be zero or more, or absent to never compress.");
        }

        return errors;

        void CheckTtl(TimeSpan? value, string key)
        {
            if (value is { } v && v <= TimeSpan.Zero)
            {
                Fail(key, $"must be positive, or absent for none (was {v.ToString("c", CultureInfo.InvariantCulture)}).");
            }
        }

        void CheckKeyPrefix(string? prefix, string key, Func<string, string?> problem)
        {
            if (prefix is null)
            {
                Fail(key, "must not be null; leave it empty for no prefix.");
            }
            else if (problem(prefix) is { } why)
            {
                Fail(key, why);
            }
        }
    }

    /// <summary>The multi-tier cache's default entry options, from the settings above.</summary>
    internal MultiTierEntryOptions BuildDefaultEntryOptions()
    {
        var entry = new MultiTierEntryOptions
        {
            Ttl = DefaultTtl,
            LocalTtl = LocalTtl,
            EagerRefreshThreshold = EagerRefreshThreshold,
            AllowStaleOnFailure = AllowStaleOnFailure,
            FactoryTimeout = FactoryTimeout,
            FactoryHardTimeout = FactoryHardTimeout,
        };
        if (FailSafeMaxDuration is { } kept)
        {
            entry.FailSafeMaxDuration = kept;
        }

        return entry;
    }

    internal CacheSerializationOptions BuildSerialization() => new()
    {
        Serializer = CustomSerializer ?? (Serializer == TaiCacheSerializerKind.SystemTextJson
            ? SystemTextJsonCacheSerializer.Default
            : MessagePackCacheSerializer.Default),
        CompressionThresholdBytes = CompressionThresholdBytes,
    };
}
