namespace TaiCache.Tiering;

/// <summary>A tier of a <see cref="MultiTierCache"/> refused a write (set, delete or expire).</summary>
/// <remarks>
/// Under <see cref="WriteStrategy.WriteThrough"/> lower tiers are written first, so when this is thrown no tier above
/// <see cref="TierName"/> holds the new value, and L1 no longer holds the old one.
/// </remarks>
public sealed class TierWriteException : CacheException
{
    /// <summary>Initializes an exception.</summary>
    /// <param name="message">What went wrong; names the key with <see cref="TaiCacheDiagnostics.DescribeKey"/>.</param>
    /// <param name="key">The key the write was about: for a batch, the item the tier refused when it said which, else the batch's first.</param>
    /// <param name="tierName">The name of the tier that refused the write.</param>
    /// <param name="tierIndex">The tier's position, 0 for L1.</param>
    /// <param name="innerException">The tier's failure.</param>
    public TierWriteException(string message, string? key, string tierName, int tierIndex, Exception? innerException)
        : base(message, key, innerException)
    {
        TierName = tierName;
        TierIndex = tierIndex;
    }

    /// <summary>Gets the name of the tier that refused the write.</summary>
    public string TierName { get; }

    /// <summary>Gets the tier's position in the cache, 0 for L1.</summary>
    public int TierIndex { get; }
}
