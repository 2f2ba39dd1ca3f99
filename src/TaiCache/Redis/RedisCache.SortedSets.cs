using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>Redis sorted sets (ZADD, ZREM, ZSCORE, ZRANGE, ZREVRANGE, ZCARD) with members typed through the serializer.</summary>
public sealed partial class RedisCache
{
    /// <summary>Adds a member with a score to a sorted set, or updates its score (<c>ZADD</c>).</summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The sorted set's key.</param>
    /// <param name="member">The member.</param>
    /// <param name="score">The score; must be a number (not NaN).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the member is new; <see langword="false"/> when its score was updated.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something other than a sorted set.</exception>
    public ValueTask<bool> SortedSetAddAsync<T>(string key, T member, double score, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        if (double.IsNaN(score))
        {
            throw new ArgumentOutOfRangeException(nameof(score), score, "A sorted-set score must be a number.");
        }

        RedisValue encoded = Codec.EncodeMember(key, member);
        return RunAsync(key, "ZADD", (physical, encoded, score), static (db, a) => db.SortedSetAddAsync(a.physical, a.encoded, a.score), cancellationToken);
    }

    /// <summary>Removes a member from a sorted set (<c>ZREM</c>).</summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The sorted set's key.</param>
    /// <param name="member">The member.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the member was there.</returns>
    public ValueTask<bool> SortedSetRemoveAsync<T>(string key, T member, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        RedisValue encoded = Codec.EncodeMember(key, member);
        return RunAsync(key, "ZREM", (physical, encoded), static (db, a) => db.SortedSetRemoveAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Reads a member's score (<c>ZSCORE</c>).</summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The sorted set's key.</param>
    /// <param name="member">The member.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The score, or <see langword="null"/> when the member or the set is missing.</returns>
    public ValueTask<double?> SortedSetScoreAsync<T>(string key, T member, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        RedisValue encoded = Codec.EncodeMember(key, member);
        return RunAsync(key, "ZSCORE", (physical, encoded), static (db, a) => db.SortedSetScoreAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Reads members by rank, lowest score first (<c>ZRANGE</c>); negative ranks count from the end.</summary>
    /// <typeparam name="T">The members' type.</typeparam>
    /// <param name="key">The sorted set's key.</param>
    /// <param name="start">The first rank, 0-based.</param>
    /// <param name="stop">The last rank, inclusive; -1 for the end.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The members in score order; empty when the set is missing.</returns>
    public ValueTask<IReadOnlyList<T>> SortedSetRangeAsync<T>(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default) =>
        SortedSetRangeCoreAsync<T>(key, start, stop, Order.Ascending, "ZRANGE", cancellationToken);

    /// <summary>Reads members by rank, highest score first (<c>ZREVRANGE</c>); negative ranks count from the end.</summary>
    /// <typeparam name="T">The members' type.</typeparam>
    /// <param name="key">The sorted set's key.</param>
    /// <param name="start">The first rank, 0-based, from the highest score.</param>
    /// <param name="stop">The last rank, inclusive; -1 for the end.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The members in descending score order; empty when the set is missing.</returns>
    public ValueTask<IReadOnlyList<T>> SortedSetRangeDescendingAsync<T>(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default) =>
        SortedSetRangeCoreAsync<T>(key, start, stop, Order.Descending, "ZREVRANGE", cancellationToken);

    /// <summary>Reads a sorted set's size (<c>ZCARD</c>).</summary>
    /// <param name="key">The sorted set's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The number of members; 0 when the set is missing.</returns>
    public ValueTask<long> SortedSetLengthAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        return RunAsync(key, "ZCARD", physical, static (db, k) => db.SortedSetLengthAsync(k), cancellationToken);
    }

    private async ValueTask<IReadOnlyList<T>> SortedSetRangeCoreAsync<T>(string key, long start, long stop, Order order, string operation, CancellationToken cancellationToken)
    {
        var physical = ToPhysicalKey(key);
        var raw = await RunAsync(key, operation, (physical, start, stop, order), static (db, a) => db.SortedSetRangeByRankAsync(a.physical, a.start, a.stop, a.order), cancellationToken).ConfigureAwait(false);
        return DecodeAll<T>(key, raw);
    }
}
