using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>Redis hashes (HSET, HGET, HGETALL, HDEL, HEXISTS): plain field names, values typed through the serializer.</summary>
public sealed partial class RedisCache
{
    /// <summary>Stores a value under a field of a hash (<c>HSET</c>), creating the hash when missing.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The hash's key.</param>
    /// <param name="field">The field; checked with the key rules.</param>
    /// <param name="value">The value.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the field is new; <see langword="false"/> when an old value was replaced.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something other than a hash.</exception>
    public ValueTask<bool> HashSetAsync<T>(string key, string field, T value, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        ValidateField(field);
        RedisValue encoded = Codec.Encode(key, value);
        return RunAsync(key, "HSET", (physical, field, encoded), static (db, a) => db.HashSetAsync(a.physical, a.field, a.encoded), cancellationToken);
    }

    /// <summary>Stores many fields of a hash in one <c>HSET</c>.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="key">The hash's key.</param>
    /// <param name="fields">The fields and values; every field is checked before anything is sent.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the hash holds the fields.</returns>
    public async ValueTask HashSetAsync<T>(string key, IEnumerable<KeyValuePair<string, T>> fields, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        ArgumentNullException.ThrowIfNull(fields);
        var entries = new List<HashEntry>();
        foreach (var pair in fields)
        {
            CacheKeyRules.ValidateField(pair.Key, _maxKeyBytes, nameof(fields)); // as the single-field overload checks it
            entries.Add(new HashEntry(pair.Key, Codec.Encode(key, pair.Value)));
        }

        if (entries.Count == 0)
        {
            ThrowIfDisposed();
            return;
        }

        await RunAsync(key, "HSET", (physical, entries: entries.ToArray()), static async (db, a) =>
        {
            await db.HashSetAsync(a.physical, a.entries).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one field of a hash (<c>HGET</c>).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The hash's key.</param>
    /// <param name="field">The field.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The value, or a miss when the field or the hash is missing.</returns>
    public async ValueTask<CacheResult<T>> HashGetAsync<T>(string key, string field, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        ValidateField(field);
        var raw = await RunAsync(key, "HGET", (physical, field), static (db, a) => db.HashGetAsync(a.physical, a.field), cancellationToken).ConfigureAwait(false);
        return raw.IsNull ? CacheResult<T>.Miss : new CacheResult<T>(DecodeItem<T>(key, raw));
    }

    /// <summary>Reads every field of a hash (<c>HGETALL</c>).</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="key">The hash's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The fields and values; empty when the hash is missing.</returns>
    public async ValueTask<IReadOnlyDictionary<string, T>> HashGetAllAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var entries = await RunAsync(key, "HGETALL", physical, static (db, k) => db.HashGetAllAsync(k), cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<string, T>(entries.Length, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            // A field another client named with bytes that are not UTF-8 has no string of its own: decoding would replace
            // the bad bytes, and two such fields would collapse into one entry.
            var name = (byte[])entry.Name!;
            if (!System.Text.Unicode.Utf8.IsValid(name))
            {
                _metrics?.RecordError();
                throw new CacheSerializationException($"The hash {TaiCacheDiagnostics.DescribeKey(key)} has a field whose name is not UTF-8 ({name.Length} bytes), written by another client; TaiCache names hash fields by string and cannot return it.", key);
            }

            result[System.Text.Encoding.UTF8.GetString(name)] = DecodeItem<T>(key, entry.Value);
        }

        return result;
    }

    /// <summary>Removes one field of a hash (<c>HDEL</c>).</summary>
    /// <param name="key">The hash's key.</param>
    /// <param name="field">The field.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the field existed.</returns>
    public ValueTask<bool> HashDeleteAsync(string key, string field, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        ValidateField(field);
        return RunAsync(key, "HDEL", (physical, field), static (db, a) => db.HashDeleteAsync(a.physical, a.field), cancellationToken);
    }

    /// <summary>Tells whether a hash has a field (<c>HEXISTS</c>).</summary>
    /// <param name="key">The hash's key.</param>
    /// <param name="field">The field.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the field exists.</returns>
    public ValueTask<bool> HashExistsAsync(string key, string field, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        ValidateField(field);
        return RunAsync(key, "HEXISTS", (physical, field), static (db, a) => db.HashExistsAsync(a.physical, a.field), cancellationToken);
    }
}
