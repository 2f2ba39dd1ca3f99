namespace TaiCache.Redis;

/// <summary>Redis sets (SADD, SREM, SISMEMBER, SMEMBERS, SCARD) with members typed through the serializer.</summary>
/// <remarks>Members are compared by their stored bytes, so equal values must serialize to equal bytes (true of the built-in serializers for the same options).</remarks>
public sealed partial class RedisCache
{
    /// <summary>Adds a member to a set (<c>SADD</c>), creating it when missing.</summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The set's key.</param>
    /// <param name="member">The member.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the member is new.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something other than a set.</exception>
    public ValueTask<bool> SetAddAsync<T>(string key, T member, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        StackExchange.Redis.RedisValue encoded = Codec.EncodeMember(key, member);
        return RunAsync(key, "SADD", (physical, encoded), static (db, a) => db.SetAddAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Removes a member from a set (<c>SREM</c>).</summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The set's key.</param>
    /// <param name="member">The member.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the member was there.</returns>
    public ValueTask<bool> SetRemoveAsync<T>(string key, T member, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        StackExchange.Redis.RedisValue encoded = Codec.EncodeMember(key, member);
        return RunAsync(key, "SREM", (physical, encoded), static (db, a) => db.SetRemoveAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Tells whether a set holds a member (<c>SISMEMBER</c>).</summary>
    /// <typeparam name="T">The member's type.</typeparam>
    /// <param name="key">The set's key.</param>
    /// <param name="member">The member.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the member is in the set.</returns>
    public ValueTask<bool> SetContainsAsync<T>(string key, T member, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        StackExchange.Redis.RedisValue encoded = Codec.EncodeMember(key, member);
        return RunAsync(key, "SISMEMBER", (physical, encoded), static (db, a) => db.SetContainsAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Reads every member of a set (<c>SMEMBERS</c>).</summary>
    /// <typeparam name="T">The members' type.</typeparam>
    /// <param name="key">The set's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The members in no particular order; empty when the set is missing.</returns>
    public async ValueTask<IReadOnlyList<T>> SetMembersAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var raw = await RunAsync(key, "SMEMBERS", physical, static (db, k) => db.SetMembersAsync(k), cancellationToken).ConfigureAwait(false);
        return DecodeAll<T>(key, raw);
    }

    /// <summary>Reads a set's size (<c>SCARD</c>).</summary>
    /// <param name="key">The set's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The number of members; 0 when the set is missing.</returns>
    public ValueTask<long> SetLengthAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        return RunAsync(key, "SCARD", physical, static (db, k) => db.SetLengthAsync(k), cancellationToken);
    }
}
