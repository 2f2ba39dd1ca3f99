using TaiCache.Tiering;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TaiCache.Invalidation;
using TaiCache.Memcached;
using TaiCache.Metrics;
using TaiCache.Redis;
using TaiCache.Sqlite;
using TaiCache.Tiering.Coherence;

namespace TaiCache.DependencyInjection;

/// <summary>One cache built from <see cref="TaiCacheOptions"/>: the multi-tier cache and what hangs off it.</summary>
internal sealed class TaiCacheInstance : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly List<MetricsCollector> _metrics = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task<InvalidationManager>? _invalidation;
    private readonly Task<CacheCoherence?>? _coherence;
    private readonly CacheCoherence? _coherenceInstance;
    private StackExchange.Redis.IConnectionMultiplexer? _sharedMultiplexer;
    private int _disposed;

    public TaiCacheInstance(string name, TaiCacheOptions options, TimeProvider time, ILoggerFactory? loggerFactory)
    {
        Name = name;
        _time = time;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("TaiCache.DependencyInjection");
        Options = options;
        var tiers = new List<ICacheOps>();
        try
        {
            BuildTiers(options, tiers);
            var multi = new MultiTierCacheOptions
            {
                Name = name,
                WriteStrategy = options.WriteStrategy,
                ReadStrategy = options.ReadStrategy,
                BestEffortWrites = options.BestEffortWrites,
                TierTimeout = options.TierTimeout,
                DefaultEntryOptions = options.BuildDefaultEntryOptions(),
                TimeProvider = time,
                Logger = _loggerFactory.CreateLogger<MultiTierCache>(),
                OwnsTiers = true,
            };
            foreach (var tier in tiers)
            {
                multi.Tiers.Add(tier);
            }

            if (options.Coherence.Enabled && L1 is not null && Redis is { } redis)
            {
                var coherence = new CacheCoherenceOptions
                {
                    // The channel carries the key namespace: caches of one name under different key prefixes (two apps on
                    // one Redis) do not evict each other's L1 copies.
                    Namespace = options.Coherence.Namespace ?? redis.KeyPrefix + name,
                    HeartbeatInterval = options.Coherence.HeartbeatInterval,
                    MissedHeartbeatsBeforeResync = options.Coherence.MissedHeartbeatsBeforeResync,
                    PublishTimeout = options.Coherence.PublishTimeout,
                    TimeProvider = time,
                    LoggerFactory = _loggerFactory,
                };

                // Over the Redis tier's own connection, which it opens in the background: resolving the cache never
                // waits on the network, and coherence starts (in the background too) once the connection is made.
                _coherenceInstance = _sharedMultiplexer is { } shared
                    ? new CacheCoherence(shared, L1, coherence)
                    : new CacheCoherence(redis.GetMultiplexerAsync, L1, coherence);
                multi.Coherence = _coherenceInstance;
            }

            options.ConfigureMultiTier?.Invoke(multi);
            Cache = new MultiTierCache(multi);
        }
        catch
        {
            // Nothing was started yet: disposing completes without waiting on the network.
            _ = _coherenceInstance?.DisposeAsync().AsTask();
            foreach (var tier in tiers)
            {
                _ = tier.DisposeAsync().AsTask();
            }

            foreach (var collector in _metrics)
            {
                collector.Dispose();
            }

            throw;
        }

        if (_coherenceInstance is not null)
        {
            // Before the first read: until coherence has started, L1 keeps no copy of a value read from Redis (a peer's
            // write of it would go unheard), between failed attempts too.
            _coherenceInstance.ExpectStart();
            _coherence = StartCoherenceAsync(_coherenceInstance, _stopping.Token);
        }
    }

    public string Name { get; }

    public TaiCacheOptions Options { get; }

    public MultiTierCache Cache { get; }

    public InMemoryTier? L1 { get; private set; }

    public RedisCache? Redis { get; private set; }

    public IReadOnlyList<MetricsCollector> Metrics => _metrics;

    /// <summary>
    /// Gets the tag and dependency manager over the cache, built on first use. Its tags and dependencies live in Redis
    /// (shared by every instance) when the cache has a Redis tier, else in process.
    /// </summary>
    public Task<InvalidationManager> GetInvalidationManagerAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Task<InvalidationManager> task;
        lock (_lock)
        {
            task = _invalidation ??= BuildInvalidationManagerAsync(_stopping.Token);
        }

        return task.WaitAsync(cancellationToken);
    }

    private async Task<InvalidationManager> BuildInvalidationManagerAsync(CancellationToken cancellationToken)
    {
        var multiplexer = Redis is null ? null : await Redis.GetMultiplexerAsync(cancellationToken).ConfigureAwait(false);
        return new InvalidationManager(
            [Cache],
            new InvalidationManagerOptions
            {
                TimeProvider = _time,
                Redis = multiplexer,
                RedisKeyPrefix = $"taicache:inv:{Name}:",
            },
            _loggerFactory.CreateLogger<InvalidationManager>());
    }

    public async ValueTask<CacheCoherence?> GetCoherenceAsync(CancellationToken cancellationToken)
    {
        var task = _coherence;
        return task is null ? null : await task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_coherence is not null)
        {
            await _coherence.ConfigureAwait(false);
        }

        Task<InvalidationManager>? invalidation;
        lock (_lock)
        {
            invalidation = _invalidation;
        }

        if (invalidation is not null)
        {
            try
            {
                await (await invalidation.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or CacheException or StackExchange.Redis.RedisException)
            {
                // It never started.
            }
        }

        await Cache.DisposeAsync().ConfigureAwait(false);
        if (_coherenceInstance is not null)
        {
            await _coherenceInstance.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var collector in _metrics)
        {
            collector.Dispose();
        }

        _stopping.Dispose();
    }

    private void BuildTiers(TaiCacheOptions options, List<ICacheOps> tiers)
    {
        if (options.Memory.Enabled)
        {
            var memory = new InMemoryTierOptions
            {
                Name = "memory",
                MaximumSize = options.Memory.MaximumSize,
                DefaultTtl = options.Memory.DefaultTtl,
                SlidingExpiration = options.Memory.SlidingExpiration,
                TimeProvider = _time,
                Metrics = Collector(options, "memory"),
            };
            options.Memory.Configure?.Invoke(memory);
            L1 = new InMemoryTier(memory);
            tiers.Add(L1);
        }

        if (options.Redis.IsEnabled)
        {
            var redis = new RedisCacheOptions
            {
                Name = "redis",
                ConnectionString = options.Redis.ConnectionString,
                KeyPrefix = options.Redis.KeyPrefix,
                OperationTimeout = options.Redis.OperationTimeout,
                DefaultTtl = options.Redis.DefaultTtl,
                IoScheduling = options.Redis.IoScheduling,
                ReadTtlFromServer = options.Redis.ReadTtlFromServer,
                Serialization = options.BuildSerialization(),
                TimeProvider = _time,
                LoggerFactory = _loggerFactory,
                Metrics = Collector(options, "redis"),
            };
            options.Redis.Configure?.Invoke(redis);
            var shared = options.Redis.Multiplexer;
            _sharedMultiplexer = shared;
            Redis = shared is not null ? new RedisCache(shared, redis) : new RedisCache(redis);
            tiers.Add(Redis);
        }

        if (options.Memcached.IsEnabled)
        {
            var memcached = new MemcachedCacheOptions
            {
                Name = "memcached",
                KeyPrefix = options.Memcached.KeyPrefix,
                HashLongKeys = options.Memcached.HashLongKeys,
                OperationTimeout = options.Memcached.OperationTimeout,
                FailoverPolicy = options.Memcached.FailoverPolicy,
                DefaultTtl = options.Memcached.DefaultTtl,
                Serialization = options.BuildSerialization(),
                TimeProvider = _time,
                LoggerFactory = _loggerFactory,
                Metrics = Collector(options, "memcached"),
            };
            foreach (var server in options.Memcached.Servers)
            {
                memcached.Servers.Add(MemcachedServer.Parse(server));
            }

            options.Memcached.Configure?.Invoke(memcached);
            tiers.Add(new MemcachedCache(memcached));
        }

        if (options.Sqlite.IsEnabled)
        {
            var sqlite = new SqliteTierOptions
            {
                Name = "sqlite",

                // Without a path, a file of the cache's own in the default folder: "sqlite.db" for every cache made two
                // named caches (and every app on the machine) share one file and read each other's keys.
                FilePath = options.Sqlite.Path ?? new SqliteTierOptions { Name = "taicache-" + Name }.ResolveFilePath(),
                DefaultTtl = options.Sqlite.DefaultTtl,
                SweepInterval = options.Sqlite.SweepInterval,
                Serialization = options.BuildSerialization(),
                TimeProvider = _time,
                LoggerFactory = _loggerFactory,
                Metrics = Collector(options, "sqlite"),
            };
            options.Sqlite.Configure?.Invoke(sqlite);
            tiers.Add(new SqliteTier(sqlite));
        }
    }

    private MetricsCollector? Collector(TaiCacheOptions options, string tier)
    {
        if (!options.EnableMetrics)
        {
            return null;
        }

        var collector = new MetricsCollector(Name, tier, _time);
        _metrics.Add(collector);
        return collector;
    }

    private async Task<CacheCoherence?> StartCoherenceAsync(CacheCoherence coherence, CancellationToken cancellationToken)
    {
        // Runs in the background: a Redis server that is down at start delays coherence, never the application. Each
        // failed attempt is logged and retried, one second later at first, doubling up to 30 s, until the cache stops.
        await Task.Yield();
        var delay = TimeSpan.FromSeconds(1);
        var failedBefore = false;
        while (true)
        {
            try
            {
                await coherence.StartAsync(cancellationToken).ConfigureAwait(false);
                if (failedBefore)
                {
                    // L1 filled while nothing listened (values from SQLite, factory values): peers' writes of those keys
                    // meanwhile were never heard, so start coherent from an empty L1.
                    coherence.LocalTier.Clear();
                }

                return coherence;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception ex) when (ex is CacheException or StackExchange.Redis.RedisException or InvalidOperationException)
            {
                Log.CoherenceStartFailed(_logger, Name, ex.GetType().Name, delay);
                failedBefore = true;
            }

            try
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }
}
