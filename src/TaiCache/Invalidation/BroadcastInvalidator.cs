using TaiCache.Tiering.Coherence;

namespace TaiCache.Invalidation;

/// <summary>
/// Tells every other instance to drop invalidated keys from its L1, so a cascade run on one instance leaves no stale
/// in-process copy anywhere. Built on <see cref="CacheCoherence"/>; give it to
/// <see cref="InvalidationManagerOptions.Broadcaster"/>.
/// </summary>
/// <remarks>
/// <para>Origin-aware: messages carry this instance's id and an instance ignores its own (its L1 was already handled by
/// the manager). Idempotent: a repeated message is ignored, and dropping a key twice is harmless anyway.</para>
/// <para>Nothing is lost silently: every message carries a per-origin sequence number, and a subscriber that sees a
/// gap, loses its subscription connection, or stops hearing its own heartbeat clears its L1, so no stale read
/// survives a dropped subscriber connection (see <c>docs/coherence.md</c>).</para>
/// </remarks>
public sealed class BroadcastInvalidator
{
    private readonly CacheCoherence _coherence;

    /// <summary>Initializes a broadcaster over a coherence channel (started by its owner with <see cref="CacheCoherence.StartAsync"/>).</summary>
    /// <param name="coherence">The coherence channel of this instance's L1. Not owned: the caller disposes it.</param>
    public BroadcastInvalidator(CacheCoherence coherence)
    {
        ArgumentNullException.ThrowIfNull(coherence);
        _coherence = coherence;
    }

    /// <summary>Gets the id of this instance, stamped on what it publishes (and on the manager's receipts).</summary>
    public string InstanceId => _coherence.InstanceId;

    /// <summary>Gets a value indicating whether the channel currently guarantees delivery (subscribed, heartbeats heard).</summary>
    public bool IsCoherent => _coherence.IsCoherent;

    /// <summary>Tells every other instance to drop keys from its L1.</summary>
    /// <param name="keys">The keys; all validated first, nothing is sent when one is bad.</param>
    /// <param name="cancellationToken">Cancels the wait for Redis.</param>
    /// <returns>A task that completes when Redis accepted the message(s).</returns>
    /// <exception cref="CacheConnectionException">Redis could not take the message; peers notice the sequence gap and clear their L1.</exception>
    public ValueTask PublishAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        var list = CacheKeyRules.ValidateAll(keys);
        return list.Count == 0 ? ValueTask.CompletedTask : _coherence.PublishInvalidationAsync(list, cancellationToken);
    }

    /// <summary>Tells every other instance to clear its L1 (sent when a pattern invalidation had to clear this instance's L1 whole).</summary>
    /// <param name="cancellationToken">Cancels the wait for Redis.</param>
    /// <returns>A task that completes when Redis accepted the message.</returns>
    public ValueTask PublishClearAsync(CancellationToken cancellationToken = default) => _coherence.PublishClearAsync(cancellationToken);
}
