using StackExchange.Redis;
namespace TaiCache.Redis;

/// <summary>Redis lists (LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN) with items typed through the serializer.</summary>
public sealed partial class RedisCache
{
    /// <summary>Adds items at the head of a list (<c>LPUSH</c>), creating it when missing.</summary>
    /// <typeparam name="T">The items' type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="values">The items, pushed in order (so the last ends up first).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The list's length after the push.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something other than a list.</exception>
    public ValueTask<long> ListLeftPushManyAsync<T>(string key, IEnumerable<T> values, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var encoded = EncodeAll(key, values, nameof(values));
        return RunAsync(key, "LPUSH", (physical, encoded), static (db, a) => db.ListLeftPushAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Adds one item at the head of a list (<c>LPUSH</c>).</summary>
    /// <typeparam name="T">The item's type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="value">The item.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The list's length after the push.</returns>
    public ValueTask<long> ListLeftPushAsync<T>(string key, T value, CancellationToken cancellationToken = default) =>
        ListLeftPushManyAsync(key, [value], cancellationToken);

    /// <summary>Adds items at the tail of a list (<c>RPUSH</c>), creating it when missing.</summary>
    /// <typeparam name="T">The items' type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="values">The items, appended in order.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The list's length after the push.</returns>
    /// <exception cref="CacheWrongTypeException">The key holds something other than a list.</exception>
    public ValueTask<long> ListRightPushManyAsync<T>(string key, IEnumerable<T> values, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var encoded = EncodeAll(key, values, nameof(values));
        return RunAsync(key, "RPUSH", (physical, encoded), static (db, a) => db.ListRightPushAsync(a.physical, a.encoded), cancellationToken);
    }

    /// <summary>Adds one item at the tail of a list (<c>RPUSH</c>).</summary>
    /// <typeparam name="T">The item's type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="value">The item.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The list's length after the push.</returns>
    public ValueTask<long> ListRightPushAsync<T>(string key, T value, CancellationToken cancellationToken = default) =>
        ListRightPushManyAsync(key, [value], cancellationToken);

    /// <summary>Removes and returns the first item of a list (<c>LPOP</c>).</summary>
    /// <typeparam name="T">The item's type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The item, or a miss when the list is empty or missing.</returns>
    /// <exception cref="CacheSerializationException">The item cannot be read as <typeparamref name="T"/> (another type, another
    /// client's bytes); it was put back at the head before the exception was thrown.</exception>
    /// <exception cref="OperationCanceledException">The caller stopped waiting: an item the pop took anyway is put back at the head.</exception>
    public async ValueTask<CacheResult<T>> ListLeftPopAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var raw = await PopAsync(key, physical, head: true, cancellationToken).ConfigureAwait(false);
        return raw.IsNull ? CacheResult<T>.Miss : new CacheResult<T>(await DecodePoppedAsync<T>(key, physical, raw, head: true).ConfigureAwait(false));
    }

    /// <summary>Removes and returns the last item of a list (<c>RPOP</c>).</summary>
    /// <typeparam name="T">The item's type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The item, or a miss when the list is empty or missing.</returns>
    /// <exception cref="CacheSerializationException">The item cannot be read as <typeparamref name="T"/>; it was put back at the tail.</exception>
    /// <exception cref="OperationCanceledException">The caller stopped waiting: an item the pop took anyway is put back at the tail.</exception>
    public async ValueTask<CacheResult<T>> ListRightPopAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var raw = await PopAsync(key, physical, head: false, cancellationToken).ConfigureAwait(false);
        return raw.IsNull ? CacheResult<T>.Miss : new CacheResult<T>(await DecodePoppedAsync<T>(key, physical, raw, head: false).ConfigureAwait(false));
    }

    /// <summary>
    /// Pops an item (<c>LPOP</c> or <c>RPOP</c>). Once sent the pop is not abandoned (it is bounded by the timeout, not by
    /// the caller's token): a caller that stops waiting gets <see cref="OperationCanceledException"/>, and an item the
    /// server popped for it anyway is put back at the end it came from, so a job queue does not lose it.
    /// </summary>
    private async ValueTask<RedisValue> PopAsync(string key, RedisKey physical, bool head, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var popping = RunAsync(key, head ? "LPOP" : "RPOP", (physical, head), static (db, a) => a.head ? db.ListLeftPopAsync(a.physical) : db.ListRightPopAsync(a.physical), CancellationToken.None).AsTask();
        if (!cancellationToken.CanBeCanceled || popping.IsCompleted)
        {
            return await popping.ConfigureAwait(false);
        }

        try
        {
            return await popping.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _ = PutBackWhenPoppedAsync(key, physical, head, popping);
            throw;
        }
    }

    /// <summary>Puts back the item a pop abandoned by its caller took (see <see cref="PopAsync"/>); a failure is logged.</summary>
    private async Task PutBackWhenPoppedAsync(string key, RedisKey physical, bool head, Task<RedisValue> popping)
    {
        RedisValue raw;
        try
        {
            raw = await popping.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the pop itself failed: nothing is known to have been taken
        catch (Exception)
#pragma warning restore CA1031
        {
            return;
        }

        if (raw.IsNull)
        {
            return;
        }

        try
        {
            await RunAsync(key, head ? "LPUSH" : "RPUSH", (physical, raw, head), static (db, a) => a.head ? db.ListLeftPushAsync(a.physical, a.raw) : db.ListRightPushAsync(a.physical, a.raw), CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // nobody waits for it: logged, never unobserved
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.PopPutBackFailed(_logger, Name, head ? "LPUSH" : "RPUSH", e);
        }
    }

    /// <summary>
    /// Decodes a popped item. One that cannot be read (a wrong type, another client's bytes) is pushed back at the end
    /// it came from before the error is thrown, so a job queue does not lose it; another consumer may pop a later
    /// item in between. If the push itself fails (the connection dropped), the item is lost and that error is thrown.
    /// The push is not cancellable. A list emptied by the pop comes back without its TTL (the key was gone).
    /// </summary>
    private async ValueTask<T> DecodePoppedAsync<T>(string key, RedisKey physical, RedisValue raw, bool head)
    {
        try
        {
            return DecodeItem<T>(key, raw);
        }
        catch (Exception e) when (e is CacheSerializationException or CacheWrongTypeException)
        {
            // Not cancellable: the item is out of the list until this lands (a cancelled caller must not lose it).
            await RunAsync(key, head ? "LPUSH" : "RPUSH", (physical, raw, head), static (db, a) => a.head ? db.ListLeftPushAsync(a.physical, a.raw) : db.ListRightPushAsync(a.physical, a.raw), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Reads a range of a list (<c>LRANGE</c>); negative indexes count from the end.</summary>
    /// <typeparam name="T">The items' type.</typeparam>
    /// <param name="key">The list's key.</param>
    /// <param name="start">The first index, 0-based.</param>
    /// <param name="stop">The last index, inclusive; -1 for the end.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The items, empty when the list is missing.</returns>
    public async ValueTask<IReadOnlyList<T>> ListRangeAsync<T>(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        var raw = await RunAsync(key, "LRANGE", (physical, start, stop), static (db, a) => db.ListRangeAsync(a.physical, a.start, a.stop), cancellationToken).ConfigureAwait(false);
        return DecodeAll<T>(key, raw);
    }

    /// <summary>Reads a list's length (<c>LLEN</c>).</summary>
    /// <param name="key">The list's key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The length; 0 when the list is missing.</returns>
    public ValueTask<long> ListLengthAsync(string key, CancellationToken cancellationToken = default)
    {
        var physical = ToPhysicalKey(key);
        return RunAsync(key, "LLEN", physical, static (db, k) => db.ListLengthAsync(k), cancellationToken);
    }
}
