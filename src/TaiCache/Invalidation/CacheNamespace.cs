using System.Globalization;
using StackExchange.Redis;

namespace TaiCache.Invalidation;

/// <summary>
/// Prefix invalidation without listing keys: a version counter is folded into every physical key
/// (<c>user:42:</c> + <c>profile</c> becomes <c>user:42:v7:profile</c>), so "drop everything under <c>user:42:</c>"
/// is one version bump. Old entries are never read again and age out by their TTL. Works the same on Redis Cluster
/// and on memcached, which cannot list keys.
/// </summary>
/// <remarks>
/// <para>The version lives in Redis (an atomic counter), or in any <see cref="ICacheOps"/> shared by the instances
/// (memcached; an <see cref="InMemoryTier"/> for one process). A missing version (never set, or evicted) starts at the current Unix
/// time in microseconds, and a bump never leaves the version behind the clock, so a lost counter restarts past every
/// version used before and can never bring old entries back (as long as the instances' clocks agree; a version
/// counted in milliseconds by an older release moves up to the clock at its next bump).</para>
/// <para>Give entries written under a namespace a TTL: the old versions' entries are only reclaimed by expiry (or
/// the server's eviction).</para>
/// </remarks>
public sealed class CacheNamespace
{
    // A bump goes to the clock (in microseconds) when the counter is behind it, else one past it: versions follow the
    // clock, so a counter lost right after a burst of bumps restarts past all of them. (Numbers below 2^53 compare
    // exactly as Lua's doubles; the start is set as the caller's string, never formatted by Lua.)
    private static readonly LuaScript IncrementScript = LuaScript.Prepare(
        "local v = tonumber(redis.call('GET', @key)) if v == nil or v < tonumber(@start) then redis.call('SET', @key, @start) return tonumber(@start) end return redis.call('INCR', @key)");

    private static readonly LuaScript ReadScript = LuaScript.Prepare(
        "redis.call('SET', @key, @start, 'NX') return redis.call('GET', @key)");

    private readonly ICacheOps? _store;
    private readonly IConnectionMultiplexer? _redis;
    private readonly int _database;
    private readonly CacheNamespaceOptions _options;
    private readonly string _versionKey;
    private readonly Lock _lock = new();
    private long _cachedVersion;
    private long _cachedAt;
    private bool _hasCached;

    /// <summary>Initializes a namespace.</summary>
    /// <param name="prefix">The namespace prefix, for example <c>user:42:</c>; it starts every physical key.</param>
    /// <param name="versionStore">Where the version counter lives, shared by every instance.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    public CacheNamespace(string prefix, ICacheOps versionStore, CacheNamespaceOptions? options = null)
        : this(prefix, options)
    {
        ArgumentNullException.ThrowIfNull(versionStore);
        _store = versionStore;
    }

    /// <summary>
    /// Initializes a namespace whose version is a Redis counter, bumped with one atomic <c>INCR</c> (a script on
    /// the single version key, so it works on Redis Cluster).
    /// </summary>
    /// <param name="prefix">The namespace prefix, for example <c>user:42:</c>.</param>
    /// <param name="redis">The Redis connection holding the counter.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="database">The database number (-1 for the connection's default).</param>
    public CacheNamespace(string prefix, IConnectionMultiplexer redis, CacheNamespaceOptions? options = null, int database = -1)
        : this(prefix, options)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _database = database;
    }

    private CacheNamespace(string prefix, CacheNamespaceOptions? options)
    {
        CacheKeyRules.Validate(prefix);
        _options = (options ?? new CacheNamespaceOptions()).Clone();
        _options.Validate();
        Prefix = prefix;
        _versionKey = _options.VersionKeyPrefix + prefix;
        CacheKeyRules.Validate(_versionKey);
    }

    /// <summary>Gets the namespace prefix.</summary>
    public string Prefix { get; }

    /// <summary>Gets the physical key of a logical key under the current version.</summary>
    /// <param name="key">The logical key (the part after the prefix).</param>
    /// <param name="cancellationToken">Cancels the wait for the version store.</param>
    /// <returns>The physical key, <c>{prefix}v{version}:{key}</c>.</returns>
    public async ValueTask<string> GetKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        var version = await GetVersionAsync(cancellationToken).ConfigureAwait(false);
        var physical = BuildKey(version, key);
        CacheKeyRules.Validate(physical, paramName: nameof(key));
        return physical;
    }

    /// <summary>Gets the current version.</summary>
    /// <param name="cancellationToken">Cancels the wait for the version store.</param>
    /// <returns>The version.</returns>
    public async ValueTask<long> GetVersionAsync(CancellationToken cancellationToken = default)
    {
        if (_options.VersionCacheDuration > TimeSpan.Zero)
        {
            lock (_lock)
            {
                if (_hasCached && _options.TimeProvider.GetElapsedTime(_cachedAt) < _options.VersionCacheDuration)
                {
                    return _cachedVersion;
                }
            }
        }

        long version;
        if (_redis is not null)
        {
            var value = await _redis.GetDatabase(_database)
                .ScriptEvaluateAsync(ReadScript, new { key = (RedisKey)_versionKey, start = StartVersion() })
                .ConfigureAwait(false);
            version = (long)value;
            Remember(version);
            return version;
        }

        var read = await _store!.GetAsync<long>(_versionKey, cancellationToken).ConfigureAwait(false);
        if (read.HasValue)
        {
            version = read.Value;
        }
        else
        {
            // First use, or the counter was evicted: start past every version this namespace can have used.
            await _store.SetAsync(_versionKey, StartVersion(), null, cancellationToken).ConfigureAwait(false);
            var again = await _store.GetAsync<long>(_versionKey, cancellationToken).ConfigureAwait(false);
            version = again.HasValue ? again.Value : StartVersion();
        }

        Remember(version);
        return version;
    }

    /// <summary>Drops every entry of the namespace at once by moving to a new version.</summary>
    /// <param name="cancellationToken">Cancels the wait for the version store.</param>
    /// <returns>The new version.</returns>
    public async ValueTask<long> InvalidateAsync(CancellationToken cancellationToken = default)
    {
        long next;
        if (_redis is not null)
        {
            var value = await _redis.GetDatabase(_database)
                .ScriptEvaluateAsync(IncrementScript, new { key = (RedisKey)_versionKey, start = StartVersion() })
                .ConfigureAwait(false);
            next = (long)value;
            Remember(next);
            return next;
        }

        // Without an atomic increment, two instances bumping at once may write the same next version: both still
        // leave the old version behind, which is all an invalidation needs.
        var read = await _store!.GetAsync<long>(_versionKey, cancellationToken).ConfigureAwait(false);
        next = read.HasValue ? Math.Max(read.Value + 1, StartVersion()) : StartVersion();
        await _store.SetAsync(_versionKey, next, null, cancellationToken).ConfigureAwait(false);
        Remember(next);
        return next;
    }

    /// <summary>Builds the physical key for a version.</summary>
    internal string BuildKey(long version, string key) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}v{version}:{key}");

    /// <summary>The clock as a version: microseconds since the Unix epoch (a counter that falls behind it is moved up to it).</summary>
    private long StartVersion() => (_options.TimeProvider.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;

    private void Remember(long version)
    {
        lock (_lock)
        {
            _cachedVersion = version;
            _cachedAt = _options.TimeProvider.GetTimestamp();
            _hasCached = true;
        }
    }
}
