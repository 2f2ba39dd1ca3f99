using Microsoft.Extensions.Logging;

namespace TaiCache.Tiering.Coherence;

/// <summary>Options of a <see cref="CacheCoherence"/>. Validated once and copied when it is built.</summary>
public sealed class CacheCoherenceOptions
{
    /// <summary>The longest heartbeat interval taken: a timer's period is at most about 49.7 days.</summary>
    internal static readonly TimeSpan MaximumHeartbeatInterval = TimeSpan.FromDays(49);
    internal static readonly TimeSpan MaximumPublishTimeout = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets the key namespace the instances share (the application or cache name). It is part of the channel
    /// name, so caches of different namespaces on one Redis never see each other's messages. Default <c>default</c>.
    /// </summary>
    public string Namespace { get; set; } = "default";

    /// <summary>Gets or sets the prefix of the channel name; the channel is <c>{ChannelPrefix}{Namespace}</c>. Default <c>taicache:coherence:</c>.</summary>
    public string ChannelPrefix { get; set; } = "taicache:coherence:";

    /// <summary>
    /// Gets or sets this instance's id, carried by every message it publishes; <see langword="null"/> (the default)
    /// generates a unique one (machine name, process id and a random part). At most 200 UTF-8 bytes.
    /// </summary>
    public string? InstanceId { get; set; }

    /// <summary>
    /// Gets or sets how often the instance publishes a heartbeat carrying its latest sequence number. Peers use it to
    /// notice invalidations they missed even when no later invalidation follows; the instance uses the echo of its own
    /// heartbeat to notice that its subscription went silent. Default 5 seconds; at most 49 days.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how many heartbeat intervals may pass without hearing the instance's own heartbeat back before the
    /// subscription is considered silent (and the local tier cleared). Default 3.
    /// </summary>
    public int MissedHeartbeatsBeforeResync { get; set; } = 3;

    /// <summary>
    /// Gets or sets how long a publish (<see cref="CacheCoherence.PublishInvalidationAsync"/>,
    /// <see cref="CacheCoherence.PublishClearAsync"/>, and so the invalidation a multi-tier cache sends after a write, a
    /// failed one included) is waited for. One Redis has not taken by then fails with
    /// <see cref="CacheConnectionException"/> (its sequence number counts as failed, so a clear is owed, as for any failed
    /// publish); the message may still go out. Measured on <see cref="TimeProvider"/>. <see langword="null"/> leaves
    /// only the multiplexer's own timeout. Default 2 seconds; at most 1 hour.
    /// </summary>
    public TimeSpan? PublishTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets the most keys carried by one message; larger invalidations are split. Default 512; at most 1,000,000.</summary>
    public int MaxKeysPerMessage { get; set; } = 512;

    /// <summary>Gets or sets the longest key accepted, in UTF-8 bytes. Default 1024.</summary>
    public int MaxKeyBytes { get; set; } = CacheKeyRules.DefaultMaxKeyBytes;

    /// <summary>
    /// Gets or sets the clock for heartbeats, silence detection and <see cref="PublishTimeout"/>. Default
    /// <see cref="TimeProvider.System"/>. Retries of network steps (the SUBSCRIBE back-off at start, the probes sent
    /// every 100 ms after a reconnect until the instance hears itself) run on the wall clock, so a fake clock in a test
    /// never stalls a recovery.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger factory; <see langword="null"/> for none.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Namespace) || Namespace.Any(char.IsControl))
        {
            throw new ArgumentException("CacheCoherenceOptions.Namespace must be non-empty text without control characters.", nameof(Namespace));
        }

        if (ChannelPrefix is null || ChannelPrefix.Any(char.IsControl))
        {
            throw new ArgumentException("CacheCoherenceOptions.ChannelPrefix must not be null or hold control characters.", nameof(ChannelPrefix));
        }

        if (InstanceId is not null && (string.IsNullOrWhiteSpace(InstanceId) || System.Text.Encoding.UTF8.GetByteCount(InstanceId) > CoherenceMessage.MaxOriginBytes))
        {
            throw new ArgumentException($"CacheCoherenceOptions.InstanceId must be non-empty and at most {CoherenceMessage.MaxOriginBytes} UTF-8 bytes, or null to generate one.", nameof(InstanceId));
        }

        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval > MaximumHeartbeatInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(HeartbeatInterval), HeartbeatInterval, "CacheCoherenceOptions.HeartbeatInterval must be positive and at most 49 days (a timer's longest period is about 49.7).");
        }

        if (MissedHeartbeatsBeforeResync < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MissedHeartbeatsBeforeResync), MissedHeartbeatsBeforeResync, "CacheCoherenceOptions.MissedHeartbeatsBeforeResync must be at least 2.");
        }

        if (HeartbeatInterval.Ticks * (double)MissedHeartbeatsBeforeResync >= TimeSpan.MaxValue.Ticks)
        {
            // The silence limit is computed at every heartbeat: past TimeSpan's range it threw in the timer's callback.
            throw new ArgumentOutOfRangeException(nameof(MissedHeartbeatsBeforeResync), MissedHeartbeatsBeforeResync, "CacheCoherenceOptions.MissedHeartbeatsBeforeResync times HeartbeatInterval must fit in a TimeSpan.");
        }

        if (PublishTimeout is { } publishTimeout && (publishTimeout <= TimeSpan.Zero || publishTimeout > MaximumPublishTimeout))
        {
            throw new ArgumentOutOfRangeException(nameof(PublishTimeout), publishTimeout, "CacheCoherenceOptions.PublishTimeout must be positive and at most 1 hour, or null for the multiplexer's own timeout.");
        }

        if (MaxKeysPerMessage <= 0 || MaxKeysPerMessage > CoherenceMessage.MaxKeysPerMessage)
        {
            // Readers refuse a message with more keys (as unreadable: each one would clear the peers' L1).
            throw new ArgumentOutOfRangeException(nameof(MaxKeysPerMessage), MaxKeysPerMessage, $"CacheCoherenceOptions.MaxKeysPerMessage must be positive and at most {CoherenceMessage.MaxKeysPerMessage} (the most a reader takes).");
        }

        if (MaxKeyBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, "CacheCoherenceOptions.MaxKeyBytes must be positive.");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("CacheCoherenceOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    internal CacheCoherenceOptions Clone() => (CacheCoherenceOptions)MemberwiseClone();
}
