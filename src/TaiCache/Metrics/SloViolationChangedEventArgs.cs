namespace TaiCache.Metrics;

/// <summary>Tells that an objective started or stopped being violated for a cache and tier.</summary>
public sealed class SloViolationChangedEventArgs : EventArgs
{
    /// <summary>Initializes the arguments.</summary>
    /// <param name="cacheName">The cache's name.</param>
    /// <param name="tierName">The tier's name.</param>
    /// <param name="measurement">The measurement that changed the state.</param>
    public SloViolationChangedEventArgs(string cacheName, string tierName, SloMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        CacheName = cacheName;
        TierName = tierName;
        Measurement = measurement;
    }

    /// <summary>Gets the cache's name.</summary>
    public string CacheName { get; }

    /// <summary>Gets the tier's name.</summary>
    public string TierName { get; }

    /// <summary>Gets the measurement that changed the state.</summary>
    public SloMeasurement Measurement { get; }

    /// <summary>Gets the objective.</summary>
    public SloObjective Objective => Measurement.Objective;

    /// <summary>Gets a value indicating whether the objective is now violated (<see langword="false"/>: it recovered).</summary>
    public bool IsViolated => !Measurement.IsMet;
}
