using TaiCache.Tiering;
using TaiCache.Invalidation;
using TaiCache.Metrics;
using TaiCache.Tiering.Coherence;

namespace TaiCache.DependencyInjection;

/// <summary>
/// Gives the caches registered with <c>AddTaiCache</c> by name. Each cache is built on first use and lives until the
/// service provider is disposed. The same caches are also registered as keyed services (<see cref="MultiTierCache"/>
/// and <see cref="ICacheOps"/>, keyed by name).
/// </summary>
public interface ITaiCacheProvider
{
    /// <summary>Gets the names of the registered caches, in registration order.</summary>
    IReadOnlyList<string> CacheNames { get; }

    /// <summary>Gets a cache by name, building it on first use.</summary>
    /// <param name="name">The cache's name (<see cref="TaiCacheOptions.DefaultName"/> for <c>AddTaiCache()</c>).</param>
    /// <returns>The cache.</returns>
    /// <exception cref="KeyNotFoundException">No cache has that name.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The cache's options are invalid.</exception>
    MultiTierCache GetCache(string name);

    /// <summary>Gets the metrics collectors of a cache's tiers (empty when metrics are off).</summary>
    /// <param name="name">The cache's name.</param>
    /// <returns>One collector per tier, fastest first.</returns>
    IReadOnlyList<MetricsCollector> GetMetrics(string name);

    /// <summary>
    /// Gets the tag and dependency manager over a cache (built on first use). Its tags and dependencies live in Redis,
    /// shared by every instance, when the cache has a Redis tier; else in process.
    /// </summary>
    /// <param name="name">The cache's name.</param>
    /// <param name="cancellationToken">Cancels the wait for the Redis connection.</param>
    /// <returns>The manager.</returns>
    Task<InvalidationManager> GetInvalidationManagerAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Gets a cache's L1 coherence once it has started, or <see langword="null"/> when it is off or could not start.</summary>
    /// <param name="name">The cache's name.</param>
    /// <param name="cancellationToken">Cancels the wait for the start.</param>
    /// <returns>The coherence, or <see langword="null"/>.</returns>
    ValueTask<CacheCoherence?> GetCoherenceAsync(string name, CancellationToken cancellationToken = default);
}
