namespace TaiCache.Tiering.Warming;

/// <summary>The outcome of a warm-up.</summary>
public sealed class WarmupSummary
{
    /// <summary>Initializes a summary.</summary>
    /// <param name="loaded">Keys loaded and stored.</param>
    /// <param name="failed">Keys that failed.</param>
    /// <param name="skipped">Keys skipped because the cache already held them.</param>
    /// <param name="duration">How long the warm-up took.</param>
    /// <param name="failures">The failures kept (at most <see cref="CacheWarmerOptions.MaxRecordedFailures"/>).</param>
    public WarmupSummary(int loaded, int failed, int skipped, TimeSpan duration, IReadOnlyList<WarmupFailure> failures)
    {
        Loaded = loaded;
        Failed = failed;
        Skipped = skipped;
        Duration = duration;
        Failures = failures;
    }

    /// <summary>Gets the number of keys loaded and stored.</summary>
    public int Loaded { get; }

    /// <summary>Gets the number of keys whose loader or write failed.</summary>
    public int Failed { get; }

    /// <summary>Gets the number of keys skipped because the cache already held them.</summary>
    public int Skipped { get; }

    /// <summary>Gets the number of keys handled.</summary>
    public int Total => Loaded + Failed + Skipped;

    /// <summary>Gets how long the warm-up took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Gets the failures with their keys and exceptions (the first <see cref="CacheWarmerOptions.MaxRecordedFailures"/>).</summary>
    public IReadOnlyList<WarmupFailure> Failures { get; }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Warm-up: {Loaded} loaded, {Failed} failed, {Skipped} skipped in {Duration.TotalMilliseconds:F0} ms");
}
