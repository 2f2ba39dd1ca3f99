namespace TaiCache;

/// <summary>
/// The operations every TaiCache backend implements (<see cref="InMemoryTier"/>, the Redis and memcached caches, the
/// SQLite tier) with the same semantics, so tiers compose and one contract test suite covers them all.
/// </summary>
/// <remarks>
/// <para>Keys are validated before anything reaches a server: <see langword="null"/> throws
/// <see cref="ArgumentNullException"/>; empty, whitespace-only, over-long keys, keys with control characters or invalid
/// UTF-16 throw <see cref="InvalidCacheKeyException"/>.</para>
/// <para>A time to live of <see langword="null"/> means the backend's default expiry (none unless configured);
/// zero or negative TTLs throw <see cref="ArgumentOutOfRangeException"/>.</para>
/// <para><see langword="null"/> is a value like any other: it can be stored (negative caching) and reads back as a hit,
/// distinct from a missing key.</para>
/// </remarks>
public interface ICacheOps : IAsyncDisposable
{
    /// <summary>Gets the name of this cache or tier, used in metrics, logs and error messages.</summary>
    string Name { get; }

    /// <summary>Reads a value. The result tells a missing key from a stored default such as <c>0</c> or <see langword="null"/>.</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns>A hit with the value, or <see cref="CacheResult{T}.Miss"/>.</returns>
    /// <exception cref="CacheSerializationException">The stored bytes cannot be read as <typeparamref name="T"/>.</exception>
    ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores a value, replacing any value under the key.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value; <see langword="null"/> is stored as a value.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for the backend's default.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns>A task that completes when the backend has the value.</returns>
    ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default);

    /// <summary>Removes a key.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns><see langword="true"/> when a key was removed; <see langword="false"/> when there was none.</returns>
    ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Tells whether a live (unexpired) value is stored under the key.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns><see langword="true"/> when the key holds a value.</returns>
    ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Sets a new time to live on an existing key.</summary>
    /// <param name="key">The key.</param>
    /// <param name="ttl">The new time to live, counted from now; must be positive.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns><see langword="true"/> when the key existed and now expires after <paramref name="ttl"/>.</returns>
    ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Reads many keys, in as few round trips as the backend allows (MGET, memcached multi-get).</summary>
    /// <typeparam name="T">The type the values were stored as.</typeparam>
    /// <param name="keys">The keys; duplicates are read once.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns>The keys that were found, with their values; missing keys are absent.</returns>
    ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Stores many values, in as few round trips as the backend allows.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="items">The keys and values. All keys are validated before anything is written.</param>
    /// <param name="ttl">Time to live for every item; <see langword="null"/> for the backend's default.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns>A task that completes when the backend has every value.</returns>
    ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default);

    /// <summary>Removes many keys.</summary>
    /// <param name="keys">The keys. All are validated before anything is removed.</param>
    /// <param name="cancellationToken">Cancels the wait for the backend.</param>
    /// <returns>How many keys were removed.</returns>
    ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default);
}
