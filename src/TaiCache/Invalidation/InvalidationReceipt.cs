namespace TaiCache.Invalidation;

/// <summary>
/// What one invalidation did: when, why, how, which keys it reached and by which dependency path, where it started,
/// and how long it took. Kept by the <see cref="InvalidationAuditLog"/>.
/// </summary>
public sealed class InvalidationReceipt
{
    private Dictionary<string, InvalidatedKey>? _byKey;

    internal InvalidationReceipt(
        Guid id,
        DateTimeOffset timestamp,
        InvalidationTrigger trigger,
        string triggerValue,
        InvalidationStrategy strategy,
        IReadOnlyList<InvalidatedKey> keys,
        IReadOnlyList<IReadOnlyList<string>> cycles,
        bool depthLimitReached,
        string originInstance,
        TimeSpan duration,
        IReadOnlyList<string> failedTiers,
        IReadOnlyList<string> clearedTiers)
    {
        Id = id;
        Timestamp = timestamp;
        Trigger = trigger;
        TriggerValue = triggerValue;
        Strategy = strategy;
        Keys = keys;
        Cycles = cycles;
        DepthLimitReached = depthLimitReached;
        OriginInstance = originInstance;
        Duration = duration;
        FailedTiers = failedTiers;
        ClearedTiers = clearedTiers;
    }

    /// <summary>Gets the receipt's unique id (time ordered).</summary>
    public Guid Id { get; }

    /// <summary>Gets when the invalidation started, from the manager's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Gets what started the invalidation.</summary>
    public InvalidationTrigger Trigger { get; }

    /// <summary>Gets the trigger's value: the key, tag, pattern, event name or namespace prefix.</summary>
    public string TriggerValue { get; }

    /// <summary>Gets how the reached keys were treated.</summary>
    public InvalidationStrategy Strategy { get; }

    /// <summary>Gets every key reached, with its cascade path, nearest first.</summary>
    public IReadOnlyList<InvalidatedKey> Keys { get; }

    /// <summary>Gets the dependency cycles met (each walked once, never looped), at most 32.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles { get; }

    /// <summary>Gets a value indicating whether the cascade stopped at the depth bound with dependents left.</summary>
    public bool DepthLimitReached { get; }

    /// <summary>Gets the id of the instance (process) that ran the invalidation.</summary>
    public string OriginInstance { get; }

    /// <summary>Gets how long the invalidation took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Gets the names of tiers that failed (the keys may still be there; the failure was logged).</summary>
    public IReadOnlyList<string> FailedTiers { get; }

    /// <summary>
    /// Gets the names of in-memory tiers that were cleared whole because a pattern could not be matched key by key
    /// (more keys than <see cref="InvalidationManagerOptions.MaxTrackedKeys"/>).
    /// </summary>
    public IReadOnlyList<string> ClearedTiers { get; }

    /// <summary>Gets a value indicating whether every tier applied the invalidation.</summary>
    public bool Succeeded => FailedTiers.Count == 0;

    /// <summary>Gets the keys that were present in at least one tier and were removed, shortened, or (lazy) marked stale.</summary>
    public IEnumerable<string> AffectedKeys => Keys.Where(static k => k.TiersAffected > 0).Select(static k => k.Key);

    /// <summary>Looks up how a key was reached.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The key's entry, or <see langword="null"/> when the invalidation did not reach it.</returns>
    public InvalidatedKey? Find(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _byKey ??= Keys.ToDictionary(static k => k.Key, StringComparer.Ordinal);
        return _byKey.GetValueOrDefault(key);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"Invalidation {Id} ({Trigger}, {Strategy}): {Keys.Count} key(s), {Cycles.Count} cycle(s), {Duration.TotalMilliseconds:0.###} ms, origin {OriginInstance}";
}
