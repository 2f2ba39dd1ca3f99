using Microsoft.Extensions.Options;
using TaiCache.Tiering;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TaiCache.Adapters;
using TaiCache.Serialization;

namespace TaiCache.DependencyInjection;

/// <summary>
/// Configures one cache registered with <c>AddTaiCache</c>: its tiers, strategies, serializer, metrics, coherence, and
/// the adapters that expose it as <see cref="IDistributedCache"/> and <see cref="HybridCache"/>. Every method adds to
/// the cache's named <see cref="TaiCacheOptions"/>, applied after configuration binding in call order.
/// </summary>
public sealed class TaiCacheBuilder
{
    internal TaiCacheBuilder(IServiceCollection services, string name)
    {
        Services = services;
        Name = name;
    }

    /// <summary>Gets the service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the cache's name (the key of its keyed services and of <see cref="ITaiCacheProvider.GetCache"/>).</summary>
    public string Name { get; }

    /// <summary>Changes the cache's options in code.</summary>
    /// <param name="configure">The change.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder Configure(Action<TaiCacheOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(Name, configure);
        return this;
    }

    /// <summary>Binds the cache's options from a configuration section (for example <c>TaiCache:Caches:default</c>).</summary>
    /// <param name="section">The section.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder BindConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        Services.AddOptions<TaiCacheOptions>(Name).Bind(section);
        Services.AddSingleton<IValidateOptions<TaiCacheOptions>>(new TaiCacheConfigurationKeysValidator(Name, section));
        return this;
    }

    /// <summary>Uses an in-memory L1 tier of a given size (the default is 10,000 entries).</summary>
    /// <param name="maximumSize">The most entries (or total weight) kept.</param>
    /// <param name="defaultTtl">The time to live of entries set without one; <see langword="null"/> for none.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithMemory(long maximumSize, TimeSpan? defaultTtl = null) => Configure(o =>
    {
        o.Memory.Enabled = true;
        o.Memory.MaximumSize = maximumSize;
        o.Memory.DefaultTtl = defaultTtl ?? o.Memory.DefaultTtl;
    });

    /// <summary>Removes the in-memory L1 tier (every read then goes to a remote or persistent tier).</summary>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithoutMemory() => Configure(static o => o.Memory.Enabled = false);

    /// <summary>Adds a Redis tier that opens its own connection (in the background; a server down at start never fails the application).</summary>
    /// <param name="connectionString">A StackExchange.Redis connection string.</param>
    /// <param name="keyPrefix">A namespace for every key; <see langword="null"/> to keep the configured one.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithRedis(string connectionString, string? keyPrefix = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return Configure(o =>
        {
            o.Redis.ConnectionString = connectionString;
            o.Redis.KeyPrefix = keyPrefix ?? o.Redis.KeyPrefix;
        });
    }

    /// <summary>Adds a Redis tier on a connection the application owns and may share; the cache never disposes it.</summary>
    /// <param name="multiplexer">The connection.</param>
    /// <param name="keyPrefix">A namespace for every key; <see langword="null"/> to keep the configured one.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithRedis(IConnectionMultiplexer multiplexer, string? keyPrefix = null)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        return Configure(o =>
        {
            o.Redis.Multiplexer = multiplexer;
            o.Redis.KeyPrefix = keyPrefix ?? o.Redis.KeyPrefix;
        });
    }

    /// <summary>Adds a memcached tier over one or more servers (consistent hashing across them).</summary>
    /// <param name="servers">The servers, each <c>host</c>, <c>host:port</c> or <c>host:port:weight</c>.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithMemcached(params string[] servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var copy = servers.ToArray();
        return Configure(o =>
        {
            o.Memcached.Servers.Clear();
            foreach (var server in copy)
            {
                o.Memcached.Servers.Add(server);
            }
        });
    }

    /// <summary>Adds a persistent SQLite tier (L3).</summary>
    /// <param name="path">The database file; <see langword="null"/> for the default location.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithSqlite(string? path = null) => Configure(o =>
    {
        o.Sqlite.Enabled = true;
        o.Sqlite.Path = path ?? o.Sqlite.Path;
    });

    /// <summary>Sets how writes go down the tiers.</summary>
    /// <param name="strategy">The strategy.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithWriteStrategy(WriteStrategy strategy) => Configure(o => o.WriteStrategy = strategy);

    /// <summary>Sets how reads fill the tiers.</summary>
    /// <param name="strategy">The strategy.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithReadStrategy(ReadStrategy strategy) => Configure(o => o.ReadStrategy = strategy);

    /// <summary>Sets the time to live used when a call gives none.</summary>
    /// <param name="ttl">The time to live in every tier.</param>
    /// <param name="localTtl">A shorter time to live in L1; <see langword="null"/> to use <paramref name="ttl"/>.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithDefaultTtl(TimeSpan ttl, TimeSpan? localTtl = null) => Configure(o =>
    {
        o.DefaultTtl = ttl;
        o.LocalTtl = localTtl;
    });

    /// <summary>Chooses a built-in serializer for the tiers that store bytes.</summary>
    /// <param name="kind">The serializer.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithSerializer(TaiCacheSerializerKind kind) => Configure(o =>
    {
        o.Serializer = kind;
        o.CustomSerializer = null;
    });

    /// <summary>Uses a serializer of your own for the tiers that store bytes.</summary>
    /// <param name="serializer">The serializer.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithSerializer(ICacheSerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        return Configure(o => o.CustomSerializer = serializer);
    }

    /// <summary>Turns per-tier metrics (the <c>TaiCache</c> meter) on or off.</summary>
    /// <param name="enabled">Whether each tier records metrics.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithMetrics(bool enabled = true) => Configure(o => o.EnableMetrics = enabled);

    /// <summary>Keeps L1 coherent across instances through Redis pub/sub (needs a Redis tier).</summary>
    /// <param name="namespace">The coherence namespace; <see langword="null"/> for the Redis key prefix followed by the cache's name.</param>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder WithCoherence(string? @namespace = null) => Configure(o =>
    {
        o.Coherence.Enabled = true;
        o.Coherence.Namespace = @namespace ?? o.Coherence.Namespace;
    });

    /// <summary>
    /// Registers this cache as <see cref="IDistributedCache"/> (replacing any registered before) and as a keyed
    /// <see cref="IDistributedCache"/> under <see cref="Name"/>.
    /// </summary>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder AddDistributedCacheAdapter()
    {
        var name = Name;
        Services.AddKeyedSingleton<IDistributedCache>(name, (sp, _) => new TaiCacheDistributedCache(
            sp.GetRequiredService<ITaiCacheProvider>().GetCache(name),
            sp.GetService<TimeProvider>()));
        ReplaceUnkeyed<IDistributedCache>(sp => sp.GetRequiredKeyedService<IDistributedCache>(name));
        return this;
    }

    /// <summary>
    /// Registers this cache as <see cref="HybridCache"/> (replacing any registered before) and as a keyed
    /// <see cref="HybridCache"/> under <see cref="Name"/>. Tags are kept by the cache's
    /// <see cref="ITaiCacheProvider.GetInvalidationManagerAsync"/> (in Redis when the cache has a Redis tier).
    /// </summary>
    /// <returns>This builder.</returns>
    public TaiCacheBuilder AddHybridCacheAdapter()
    {
        var name = Name;
        Services.AddKeyedSingleton<HybridCache>(name, (sp, _) =>
        {
            var provider = sp.GetRequiredService<ITaiCacheProvider>();
            return new TaiCacheHybridCache(provider.GetCache(name), ct => provider.GetInvalidationManagerAsync(name, ct));
        });
        ReplaceUnkeyed<HybridCache>(sp => sp.GetRequiredKeyedService<HybridCache>(name));
        return this;
    }

    private void ReplaceUnkeyed<TService>(Func<IServiceProvider, TService> factory)
        where TService : class
    {
        for (var i = Services.Count - 1; i >= 0; i--)
        {
            if (Services[i].ServiceType == typeof(TService) && !Services[i].IsKeyedService)
            {
                Services.RemoveAt(i);
            }
        }

        Services.AddSingleton(factory);
    }
}
