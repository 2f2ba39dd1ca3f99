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

            try
            {
                if ((await ops.GetAsync<T>(key, cancellationToken).ConfigureAwait(false)).HasValue)
                {
                    return false;
                }
            }
            catch (Exception e) when (e is CacheSerializationException or CacheWrongTypeException)
            {
                // Unreadable here: replaced below.
            }
        }

        await ops.SetAsync(key, value, ttl, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
