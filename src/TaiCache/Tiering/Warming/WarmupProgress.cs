namespace TaiCache.Tiering.Warming;

/// <summary>A snapshot of a running warm-up, reported through <see cref="IProgress{T}"/>.</summary>
/// <param name="Total">The number of keys to warm, when known (a key list); <see langword="null"/> for a stream.</param>
/// <param name="Loaded">Keys loaded and stored so far.</param>
/// <param name="Failed">Keys whose loader or write failed so far.</param>
/// <param name="Skipped">Keys skipped because the cache already held them.</param>
/// <param name="Elapsed">Time since the warm-up started.</param>
public readonly record struct WarmupProgress(int? Total, int Loaded, int Failed, int Skipped, TimeSpan Elapsed)
{
    /// <summary>Gets the number of keys done (loaded, failed or skipped).</summary>
    public int Completed => Loaded + Failed + Skipped;
}
