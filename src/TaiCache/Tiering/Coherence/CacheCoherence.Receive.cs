using StackExchange.Redis;

namespace TaiCache.Tiering.Coherence;

/// <summary>Receiving: own messages, peers' sequence tracking, eviction.</summary>
public sealed partial class CacheCoherence
{
    /// <summary>How many peers pruned for silence are remembered (see <see cref="PrunePeers"/>); past it they are all forgotten.</summary>
    private const int MaxForgottenPeers = 4096;

    // Keyed by origin id and incarnation: two live instances configured with one InstanceId are two peers, each with its
    // own numbers (tracked by id alone, each one's message was taken for a restart of the other, a new baseline every
    // time, and neither one's gaps were seen). A restarted peer is a new one; its predecessor is pruned in time.
    private readonly Dictionary<(string Origin, ulong Incarnation), PeerState> _peers = [];

    // Peers pruned for silence, with the last sequence number heard: one that comes back under the same incarnation
    // with a higher number (its connection was down for a while) sent messages this instance never got.
    private readonly Dictionary<(string Origin, ulong Incarnation), PeerState> _forgottenPeers = [];
    private readonly Lock _peersLock = new();

    // Called by the channel queue, one message at a time, in the order Redis delivered them.
    private void OnMessage(ChannelMessage channelMessage)
    {
        if (_disposed)
        {
            return;
        }

        Interlocked.Increment(ref _messagesReceived);
        ReadOnlyMemory<byte> data = channelMessage.Message;
        if (!CoherenceMessage.TryDecode(data.Span, out var message, out var error))
        {
            Log.Unreadable(_logger, ChannelName, error ?? "unknown");
            Resync(CoherenceResyncReason.UnreadableMessage, null);
            return;
        }

        Handle(message);
    }

    private void Handle(in CoherenceMessage message)
    {
        if (message.Incarnation == _incarnation && string.Equals(message.Origin, InstanceId, StringComparison.Ordinal))
        {
            OnOwnMessageHeard(message);
            return;
        }

        bool gap;
        bool apply;
        var now = _time.GetTimestamp();
        lock (_peersLock)
        {
            var id = (message.Origin, message.Incarnation);
            if (!_peers.TryGetValue(id, out var peer))
            {
                // First contact with this peer (or a restart of it): its numbers start the tracking, unless it is a peer
                // pruned while silent whose numbers went on meanwhile (a heartbeat repeats the last one; a message is the next).
                gap = _forgottenPeers.Remove(id, out var forgotten)
                      && message.Sequence > forgotten.LastSequence + (message.Kind == CoherenceMessageKind.Heartbeat ? 0 : 1);
                _peers[id] = new PeerState(message.Sequence, now);
                apply = message.Kind != CoherenceMessageKind.Heartbeat;
            }
            else if (message.Kind == CoherenceMessageKind.Heartbeat)
            {
                gap = message.Sequence > peer.LastSequence;
                peer.LastSequence = Math.Max(peer.LastSequence, message.Sequence);
                peer.LastHeard = now;
                apply = false;
            }
            else if (message.Sequence <= peer.LastSequence)
            {
                gap = false; // a repeat: already applied
                apply = false;
                peer.LastHeard = now;
            }
            else
            {
                gap = message.Sequence > peer.LastSequence + 1;
                peer.LastSequence = message.Sequence;
                peer.LastHeard = now;
                apply = true;
            }
        }

        if (gap)
        {
            Interlocked.Increment(ref _sequenceGaps);
            Resync(CoherenceResyncReason.SequenceGap, message.Origin);
        }

        if (apply)
        {
            Apply(message);
        }
    }

    private void Apply(in CoherenceMessage message)
    {
        if (message.Kind == CoherenceMessageKind.Clear)
        {
            _localTier.Clear();
        }
        else
        {
            foreach (var key in message.Keys)
            {
                try
                {
                    _localTier.Remove(key);
                }
                catch (InvalidCacheKeyException)
                {
                    // a key this instance could never have stored
                }
            }
        }

        var handler = RemoteInvalidation;
        if (handler is not null)
        {
            try
            {
                handler(this, new CoherenceInvalidationEventArgs(message.Origin, message.Sequence, message.Keys, message.Kind == CoherenceMessageKind.Clear));
            }
#pragma warning disable CA1031 // a subscriber's bug must not stop the message loop
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.HandlerFailed(_logger, ex);
            }
        }
    }

    private void Resync(CoherenceResyncReason reason, string? peer)
    {
        var entries = _localTier.Count;
        _localTier.Clear();
        Interlocked.Increment(ref _resyncCount);
        Log.Resynchronized(_logger, reason, peer, entries);
        var handler = Resynchronized;
        if (handler is not null)
        {
            try
            {
                handler(this, new CoherenceResyncEventArgs(reason, peer, entries));
            }
#pragma warning disable CA1031 // a subscriber's bug must not stop the message loop
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.HandlerFailed(_logger, ex);
            }
        }
    }

    private void PrunePeers(long now, TimeSpan olderThan)
    {
        lock (_peersLock)
        {
            List<(string, ulong)>? gone = null;
            foreach (var (id, peer) in _peers)
            {
                if (_time.GetElapsedTime(peer.LastHeard, now) > olderThan)
                {
                    (gone ??= []).Add(id);
                }
            }

            if (gone is not null)
            {
                foreach (var id in gone)
                {
                    if (_forgottenPeers.Count >= MaxForgottenPeers)
                    {
                        _forgottenPeers.Clear(); // bounded: a fleet's worth of restarts must not grow it for ever
                    }

                    _forgottenPeers[id] = _peers[id];
                    _peers.Remove(id);
                }
            }
        }
    }

    private sealed class PeerState(long lastSequence, long lastHeard)
    {
        public long LastSequence { get; set; } = lastSequence;

        public long LastHeard { get; set; } = lastHeard;
    }
}
