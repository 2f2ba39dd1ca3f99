using TaiCache.Tiering;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TaiCache.Invalidation;
using TaiCache.Metrics;
using TaiCache.Tiering.Coherence;

namespace TaiCache.DependencyInjection;

/// <summary>Builds each registered cache on first use and disposes them all with the service provider.</summary>
internal sealed class TaiCacheProvider : ITaiCacheProvider, IAsyncDisposable, IDisposable
{
    private readonly TaiCacheRegistry _registry;
    private readonly IOptionsMonitor<TaiCacheOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ConcurrentDictionary<string, Lazy<TaiCacheInstance>> _instances = new(StringComparer.Ordinal);
    private int _disposed;

    public TaiCacheProvider(TaiCacheRegistry registry, IOptionsMonitor<TaiCacheOptions> options, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        _registry = registry;
        _options = options;
        _time = time ?? TimeProvider.System;
        _loggerFactory = loggerFactory;
    }

    public IReadOnlyList<string> CacheNames => _registry.Names;

    public MultiTierCache GetCache(string name) => Instance(name).Cache;

    public IReadOnlyList<MetricsCollector> GetMetrics(string name) => Instance(name).Metrics;

    public Task<InvalidationManager> GetInvalidationManagerAsync(string name, CancellationToken cancellationToken = default) =>
        Instance(name).GetInvalidationManagerAsync(cancellationToken);

    public ValueTask<CacheCoherence?> GetCoherenceAsync(string name, CancellationToken cancellationToken = default) =>
        Instance(name).GetCoherenceAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var lazy in _instances.Values)
        {
            if (lazy.IsValueCreated)
            {
                await lazy.Value.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Disposing synchronously cannot drain write-behind queues or close connections cleanly; dispose the service provider asynchronously.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        // A synchronous container dispose: run the asynchronous one on the thread pool so no context is captured.
        Task.Run(async () => await DisposeAsync().ConfigureAwait(false)).GetAwaiter().GetResult();
    }

    private TaiCacheInstance Instance(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        // Configuration keys are case-insensitive, so a cache named "Alpha" in appsettings.json is found as "alpha" too
        // (an exact match wins when both are registered).
        var registered = _registry.Names.FirstOrDefault(n => string.Equals(n, name, StringComparison.Ordinal))
            ?? _registry.Names.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new KeyNotFoundException($"No TaiCache cache is named '{name}'; registered: {string.Join(", ", _registry.Names.Select(n => $"'{n}'"))}.");
        name = registered;

        var lazy = _instances.GetOrAdd(name, n => new Lazy<TaiCacheInstance>(() => Build(n), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Let a later call retry (for example after the configuration was fixed and reloaded).
            _instances.TryRemove(new KeyValuePair<string, Lazy<TaiCacheInstance>>(name, lazy));
            throw;
        }
    }

    private TaiCacheInstance Build(string name)
    {
        var options = _options.Get(name);
        var instance = new TaiCacheInstance(name, options, _time, _loggerFactory);
        var logger = _loggerFactory?.CreateLogger("TaiCache.DependencyInjection");
        if (logger is not null && logger.IsEnabled(LogLevel.Information))
        {
            var tiers = string.Join(" > ", instance.Cache.Tiers.Select(t => t.Name));
            Log.CacheBuilt(logger, name, tiers);
        }

        return instance;
    }
}
