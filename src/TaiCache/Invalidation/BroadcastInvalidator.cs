namespace TaiCache.Invalidation;

/// <summary>
/// Tells every other instance to drop invalidated keys from its L1, so a cascade run on one instance leaves no stale
/// in-process copy anywhere. Give it to <see cref="InvalidationManagerOptions.Broadcaster"/>.
/// </summary>
/// <remarks>
/// Messages carry the sender's instance id (an instance ignores its own) and are idempotent (dropping a key twice is
/// harmless). Delivery is the coherence channel's: per-origin sequence numbers let a subscriber detect a gap or a
/// reconnect and clear its L1, so a message lost while disconnected never leaves a stale read behind.
/// </remarks>
public sealed class BroadcastInvalidator
{
    private readonly IInvalidationChannel _channel;

    internal BroadcastInvalidator(IInvalidationChannel channel)
    {
        _channel = channel;
    }

    /// <summary>Gets the id of this instance, stamped on what it publishes.</summary>
    public string InstanceId => _channel.InstanceId;

    /// <summary>Publishes an invalidation of keys to every other instance.</summary>
    /// <param name="keys">The keys to drop; validated first, nothing is sent when one is bad.</param>
    /// <param name="cancellationToken">Cancels the wait for the channel.</param>
    /// <returns>A task that completes when the message was handed to the channel.</returns>
    public Task PublishAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateAll(keys);
        return list.Count == 0 ? Task.CompletedTask : _channel.PublishAsync(list, cancellationToken);
    }
}
