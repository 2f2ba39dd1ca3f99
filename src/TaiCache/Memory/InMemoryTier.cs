using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using TaiCache.Serialization;

namespace TaiCache;

/// <summary>
/// A bounded, in-process cache tier holding objects (no serialization), with TTL and a synchronous, allocation-free
/// hit path (<see cref="TryGet{T}(string, out T)"/>).
/// </summary>
/// <remarks>PLACEHOLDER implementation (arbitrary eviction) with the agreed public surface; the InMemoryTier issue replaces the policy.</remarks>
public sealed class InMemoryTier : ICacheOps
{
    private readonly ConcurrentDictionary<string, Entry> _map = new(StringComparer.Ordinal);
    private readonly InMemoryTierOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Initializes a tier.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    public InMemoryTier(InMemoryTierOptions? options = null)
    {
        _options = (options ?? new InMemoryTierOptions()).Clone();
        _options.Validate();
        _time = _options.TimeProvider;
    }

    /// <summary>Raised when an entry leaves the tier, with the reason.</summary>
    public event EventHandler<CacheEvictionEventArgs>? Evicted;

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <summary>Gets the number of entries held (expired entries not yet reclaimed included).</summary>
    public long Count => _map.Count;

    /// <summary>Reads a value without allocating.</summary>
    /// <typeparam name="T">The type the value was stored as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value on a hit.</param>
    /// <returns><see langword="true"/> on a hit.</returns>
    public bool TryGet<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        CacheKeyRules.Validate(key);
        if (_map.TryGetValue(key, out var entry))
        {
            var now = _time.GetTimestamp();
            if (entry.ExpiresAt > now)
            {
                value = Unwrap<T>(key, entry.Value);
                return true;
            }

            if (_map.TryRemove(new KeyValuePair<string, Entry>(key, entry)))
            {
                Evicted?.Invoke(this, new CacheEvictionEventArgs(key, EvictionReason.Expired));
            }
        }

        value = default;
        return false;
    }

    /// <summary>Stores a value.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="ttl">Time to live; <see langword="null"/> for <see cref="InMemoryTierOptions.DefaultTtl"/>.</param>
    public void Set<T>(string key, T value, TimeSpan? ttl = null)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(ttl);
        var stored = _options.StoreSerializedCopies ? CacheValueCodec.Default.Encode(key, value) : (object?)value;
        var entry = new Entry(stored, ExpiresAt(ttl ?? _options.DefaultTtl));
        var replaced = false;
        _map.AddOrUpdate(key, entry, (_, _) =>
        {
            replaced = true;
            return entry;
        });
        if (replaced)
        {
            Evicted?.Invoke(this, new CacheEvictionEventArgs(key, EvictionReason.Replaced));
        }

        while (_map.Count > _options.MaximumSize)
        {
            foreach (var victim in _map.Keys)
            {
                if (victim != key && _map.TryRemove(victim, out _))
                {
                    Evicted?.Invoke(this, new CacheEvictionEventArgs(victim, EvictionReason.Size));
                    break;
                }
            }
        }
    }

    /// <summary>Removes a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when a live entry was removed.</returns>
    public bool Remove(string key)
    {
        CacheKeyRules.Validate(key);
        if (_map.TryRemove(key, out var entry))
        {
            Evicted?.Invoke(this, new CacheEvictionEventArgs(key, EvictionReason.Removed));
            return entry.ExpiresAt > _time.GetTimestamp();
        }

        return false;
    }

    /// <summary>Gets the remaining time to live of a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The remaining time, <see cref="Timeout.InfiniteTimeSpan"/> for an entry without expiry, or <see langword="null"/> when the key is missing.</returns>
    public TimeSpan? GetRemainingTtl(string key)
    {
        CacheKeyRules.Validate(key);
        if (!_map.TryGetValue(key, out var entry))
        {
            return null;
        }

        if (entry.ExpiresAt == long.MaxValue)
        {
            return Timeout.InfiniteTimeSpan;
        }

        var now = _time.GetTimestamp();
        return entry.ExpiresAt > now ? _time.GetElapsedTime(now, entry.ExpiresAt) : null;
    }

    /// <summary>Removes every entry.</summary>
    public void Clear() => _map.Clear();

    /// <inheritdoc />
    public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) =>
        new(TryGet<T>(key, out var value) ? new CacheResult<T>(value) : CacheResult<T>.Miss);

    /// <inheritdoc />
    public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Set(key, value, ttl);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => new(Remove(key));

    /// <inheritdoc />
    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        new(GetRemainingTtl(key) is not null);

    /// <inheritdoc />
    public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        CacheKeyRules.Validate(key);
        CacheKeyRules.ValidateTtl(ttl);
        while (_map.TryGetValue(key, out var entry) && entry.ExpiresAt > _time.GetTimestamp())
        {
            if (_map.TryUpdate(key, entry with { ExpiresAt = ExpiresAt(ttl) }, entry))
            {
                return new(true);
            }
        }

        return new(false);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var key in CacheKeyRules.ValidateAll(keys))
        {
            if (TryGet<T>(key, out var value))
            {
                result[key] = value;
            }
        }

        return new(result);
    }

    /// <inheritdoc />
    public ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        CacheKeyRules.ValidateTtl(ttl);
        var list = items.ToList();
        foreach (var item in list)
        {
            CacheKeyRules.Validate(item.Key, paramName: nameof(items));
        }

        foreach (var item in list)
        {
            Set(item.Key, item.Value, ttl);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        long removed = 0;
        foreach (var key in CacheKeyRules.ValidateAll(keys))
        {
            if (Remove(key))
            {
                removed++;
            }
        }

        return new(removed);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _map.Clear();
        return ValueTask.CompletedTask;
    }

    private static T Unwrap<T>(string key, object? stored)
    {
        if (stored is T typed)
        {
            return typed;
        }

        if (stored is null && default(T) is null)
        {
            return default!;
        }

        throw new CacheWrongTypeException($"The entry under {TaiCacheDiagnostics.DescribeKey(key)} holds a {stored?.GetType().Name ?? "null"}, not a {typeof(T).Name}.", key);
    }

    private long ExpiresAt(TimeSpan? ttl) =>
        ttl is { } t ? _time.GetTimestamp() + (long)(t.TotalSeconds * _time.TimestampFrequency) : long.MaxValue;

    private sealed record Entry(object? Value, long ExpiresAt);
}
