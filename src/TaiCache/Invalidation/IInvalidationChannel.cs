namespace TaiCache.Invalidation;

/// <summary>The transport a <see cref="BroadcastInvalidator"/> publishes on (the tiering module's coherence channel).</summary>
internal interface IInvalidationChannel
{
    /// <summary>Gets the id of this instance, carried by every message it sends.</summary>
    string InstanceId { get; }

    /// <summary>Tells every other instance to drop the keys from its L1.</summary>
    Task PublishAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken);
}
