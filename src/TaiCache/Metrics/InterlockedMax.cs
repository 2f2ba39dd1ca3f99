namespace TaiCache.Metrics;

/// <summary>Lock-free running maximum of a shared 64-bit value.</summary>
internal static class InterlockedMax
{
    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> unless it is already at least that.</summary>
    /// <param name="target">The shared maximum.</param>
    /// <param name="value">The candidate.</param>
    public static void Raise(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
