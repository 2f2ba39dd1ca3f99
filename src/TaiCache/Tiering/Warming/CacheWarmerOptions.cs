using Microsoft.Extensions.Logging;

namespace TaiCache.Tiering.Warming;

/// <summary>Options of a <see cref="CacheWarmer"/>. Validated once and copied when it is built.</summary>
public sealed class CacheWarmerOptions
{
    /// <summary>Gets or sets the most loader calls (or batch writes) running at once. Default 8.</summary>
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>Gets or sets the time to live of warmed entries; <see langword="null"/> (default) for the cache's default.</summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>Gets or sets a value indicating whether keys the cache already holds are skipped (not loaded, not overwritten). Default <see langword="false"/>.</summary>
    public bool SkipExisting { get; set; }

    /// <summary>Gets or sets how many pairs of an <see cref="IAsyncEnumerable{T}"/> source are written per batch (<see cref="ICacheOps.SetManyAsync{T}"/>). Default 100.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>Gets or sets the most failures kept with their exception in <see cref="WarmupSummary.Failures"/> (all are counted). Default 1000.</summary>
    public int MaxRecordedFailures { get; set; } = 1000;

    /// <summary>Gets or sets the clock used to time the warm-up. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger factory; <see langword="null"/> for none.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (MaxConcurrency <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrency), MaxConcurrency, "CacheWarmerOptions.MaxConcurrency must be positive.");
        }

        if (Ttl is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Ttl), ttl, "CacheWarmerOptions.Ttl must be positive, or null for the cache's default.");
        }

        if (BatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "CacheWarmerOptions.BatchSize must be positive.");
        }

        if (MaxRecordedFailures < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRecordedFailures), MaxRecordedFailures, "CacheWarmerOptions.MaxRecordedFailures must be zero or more.");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("CacheWarmerOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    internal CacheWarmerOptions Clone() => (CacheWarmerOptions)MemberwiseClone();
}
