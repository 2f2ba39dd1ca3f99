namespace TaiCache.Redis;

/// <summary>Counters (INCRBY, DECRBY), stored as plain decimal integers so any Redis client can read them.</summary>
public sealed partial class RedisCache
{
    /// <summary>Adds to a counter (<c>INCRBY</c>), starting from 0 when missing.</summary>
    /// <param name="key">The counter's key.</param>
    /// <param name="by">How much to add (may be negative).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The counter's new value.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something that is not a plain integer (a TaiCache value, a list).</exception>
    public ValueTask<long> IncrementAsync(string key, long by = 1, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        return RunAsync(key, "INCRBY", (physical, by), static (db, a) => db.StringIncrementAsync(a.physical, a.by), cancellationToken);
    }

    /// <summary>Subtracts from a counter (<c>DECRBY</c>), starting from 0 when missing.</summary>
    /// <param name="key">The counter's key.</param>
    /// <param name="by">How much to subtract.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The counter's new value.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something that is not a plain integer.</exception>
    public ValueTask<long> DecrementAsync(string key, long by = 1, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        return RunAsync(key, "DECRBY", (physical, by), static (db, a) => db.StringDecrementAsync(a.physical, a.by), cancellationToken);
    }

    /// <summary>Reads a counter.</summary>
    /// <param name="key">The counter's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The value, or a miss when the key is missing.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something that is not a plain integer.</exception>
    public async ValueTask<CacheResult<long>> GetCounterAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var raw = await RunAsync(key, "GET", physical, static (db, k) => db.StringGetAsync(k), cancellationToken).ConfigureAwait(false);
        if (raw.IsNull)
        {
            return CacheResult<long>.Miss;
        }

        // In Redis's own form only (what INCRBY accepts): "+5", "042" or "42 " are another client's text.
        if (Serialization.PlainCounter.TryRead<long>(((ReadOnlyMemory<byte>)raw).Span, padded: false, out var value))
        {
            return new CacheResult<long>(value);
        }

        _metrics?.RecordError();
        var tooLarge = Serialization.PlainCounter.Unrepresentable<long>(key, ((ReadOnlyMemory<byte>)raw).Span, padded: false) is not null;
        throw new CacheWrongTypeException(
            tooLarge
                ? $"Redis cache '{Name}': the value under {TaiCacheDiagnostics.DescribeKey(key)} is an integer outside a counter's 64-bit signed range."
                : $"Redis cache '{Name}': the value under {TaiCacheDiagnostics.DescribeKey(key)} is not a counter (a plain integer).",
            key);
    }
}
