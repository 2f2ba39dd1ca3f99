namespace TaiCache.Invalidation;

/// <summary>
/// Thrown when a regular-expression key pattern takes longer than its match timeout on a key (a catastrophic
/// pattern such as <c>(a+)+$</c>). Nothing is invalidated by the call that throws.
/// </summary>
public sealed class CachePatternTimeoutException : CacheException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What went wrong; keys are named with <see cref="TaiCacheDiagnostics.DescribeKey"/>.</param>
    /// <param name="key">The key whose match timed out.</param>
    /// <param name="innerException">The regex timeout.</param>
    public CachePatternTimeoutException(string message, string? key, Exception? innerException)
        : base(message, key, innerException)
    {
    }
}
