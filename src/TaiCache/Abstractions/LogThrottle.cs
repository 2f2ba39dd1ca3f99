namespace TaiCache;

/// <summary>
/// Lets one log message through per interval and counts the ones it holds back, so a tier or server failing every call (thousands
/// a second while its circuit is off or half-open) writes one warning a second, with the count of the others, instead
/// of one per call. Lock-free; a race lets at most one extra message through.
/// </summary>
internal sealed class LogThrottle
{
    private readonly TimeProvider _time;
    private readonly long _intervalTimestamps;
    private long _nextAllowed = long.MinValue;
    private long _suppressed;

    public LogThrottle(TimeProvider time, TimeSpan interval)
    {
        _time = time;
        _intervalTimestamps = (long)(interval.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>Asks to log now.</summary>
    /// <param name="suppressed">When allowed, how many messages were held back since the last one let through.</param>
    /// <returns><see langword="true"/> when the message should be written.</returns>
    public bool TryEnter(out long suppressed)
    {
        var now = _time.GetTimestamp();
        var next = Volatile.Read(ref _nextAllowed);
        if (now >= next && Interlocked.CompareExchange(ref _nextAllowed, now + _intervalTimestamps, next) == next)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }

        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }
}
