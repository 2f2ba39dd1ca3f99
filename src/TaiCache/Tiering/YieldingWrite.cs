namespace TaiCache.Tiering;

/// <summary>
/// Writes a value read or loaded earlier (a factory's, or a copy of a lower tier's) into a remote tier without
/// overwriting a newer one: another instance may have written the key there since this one read it and found nothing.
/// </summary>
internal static class YieldingWrite
{
    /// <summary>
    /// Stores the value where the key holds none (see <see cref="IConditionalWriter"/>; a plain set on a tier without
    /// it). A value already there that this cache cannot read (another client's bytes, another type) is replaced, as a
    /// read treats it as a miss.
    /// </summary>
    /// <returns><see langword="true"/> when the value was stored; <see langword="false"/> when it yielded to the tier's own.</returns>
    public static async ValueTask<bool> StoreAsync<T>(ICacheOps ops, string key, T value, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        if (ops is IConditionalWriter adder)
        {
            if (await adder.AddAsync(key, value, ttl, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            if (await HoldsReadableAsync<T>(ops, key, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }

        await ops.SetAsync(key, value, ttl, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Stores a batch as <see cref="StoreAsync{T}"/> stores one value: one batch call, then one read per key that held a value already.</summary>
    /// <returns>The items stored (<paramref name="items"/> itself when all were); those left out yielded to the tier's own values.</returns>
    public static async ValueTask<List<KeyValuePair<string, T>>> StoreManyAsync<T>(ICacheOps ops, List<KeyValuePair<string, T>> items, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        if (ops is not IConditionalWriter adder)
        {
            await ops.SetManyAsync(items, ttl, cancellationToken).ConfigureAwait(false);
            return items;
        }

        var added = await adder.AddManyAsync(items, ttl, cancellationToken).ConfigureAwait(false);
        if (Array.IndexOf(added, false) < 0)
        {
            return items;
        }

        var stored = new List<KeyValuePair<string, T>>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            if (!added[i])
            {
                if (await HoldsReadableAsync<T>(ops, items[i].Key, cancellationToken).ConfigureAwait(false))
                {
                    continue;
                }

                await ops.SetAsync(items[i].Key, items[i].Value, ttl, cancellationToken).ConfigureAwait(false);
            }

            stored.Add(items[i]);
        }

        return stored;
    }

    /// <summary>Whether the tier holds a value of the key that this cache can read as <typeparamref name="T"/>.</summary>
    private static async ValueTask<bool> HoldsReadableAsync<T>(ICacheOps ops, string key, CancellationToken cancellationToken)
    {
        try
        {
            return (await ops.GetAsync<T>(key, cancellationToken).ConfigureAwait(false)).HasValue;
        }
        catch (Exception e) when (e is CacheSerializationException or CacheWrongTypeException)
        {
            return false; // another client's bytes, or another type: replaced, as a read treats it as a miss
        }
    }
}
