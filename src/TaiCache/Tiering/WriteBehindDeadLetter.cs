namespace TaiCache.Tiering;

/// <summary>A write-behind operation the flusher gave up on, after <see cref="WriteBehindOptions.MaxAttempts"/> attempts or at a drain deadline.</summary>
/// <param name="Key">The key.</param>
/// <param name="Operation">Whether a value was to be stored, the key removed, or a new expiry applied.</param>
/// <param name="Value">The value that was to be stored (boxed), or <see langword="null"/> for a delete or an expiry.</param>
/// <param name="Ttl">The time to live the value was set with (for an expiry, the one <c>ExpireAsync</c> asked for).</param>
/// <param name="FailedTiers">The names of the tiers that did not get the write.</param>
/// <param name="Attempts">How many times the write was tried.</param>
/// <param name="Error">The last failure's message, or why the write was abandoned.</param>
/// <param name="FailedAt">When the flusher gave up.</param>
public sealed record WriteBehindDeadLetter(
    string Key,
    WriteBehindOperation Operation,
    object? Value,
    TimeSpan? Ttl,
    IReadOnlyList<string> FailedTiers,
    int Attempts,
    string Error,
    DateTimeOffset FailedAt);
