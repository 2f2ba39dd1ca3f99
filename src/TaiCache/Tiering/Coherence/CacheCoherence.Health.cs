using StackExchange.Redis;

namespace TaiCache.Tiering.Coherence;

/// <summary>Subscription health: connection events, probe echo, heartbeat and silence.</summary>
public sealed partial class CacheCoherence
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);
    private readonly Lock _healthLock = new();
    private long _lastSelfHeard;
    private long _probeNumber;
    private volatile bool _subscriberHealthy;
    private volatile bool _awaitingEcho;
    private volatile bool _silent;
    private int _probing;

    /// <summary>Test seam: called when a probe loop has stopped probing, just before it ends.</summary>
    internal Action? ProbeLoopEnding { get; set; }

    private void OnOwnMessageHeard(in CoherenceMessage message)
    {
        Volatile.Write(ref _lastSelfHeard, _time.GetTimestamp());
        CoherenceResyncReason reason;
        lock (_healthLock)
        {
            if (!_awaitingEcho && !_silent)
            {
                return;
            }

            // Only the echo of a probe sent after the failure (or after the silence began) proves the channel delivers
            // now; a message sent before, received on the old connection or held in the client's queue, may still come.
            if (message.Kind != CoherenceMessageKind.Heartbeat || message.Probe != Interlocked.Read(ref _probeNumber))
            {
                return;
            }

            reason = _awaitingEcho ? CoherenceResyncReason.SubscriberReconnected : CoherenceResyncReason.SubscriberSilent;

            _awaitingEcho = false;
            _silent = false;
            _subscriberHealthy = true;
        }

        // Whatever was published since the last clear may be lost: clear once more, now that nothing can be missed.
        Resync(reason, null);
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (_disposed || !CarriesSubscriptions(e))
        {
            return;
        }

        Log.SubscriberFailed(_logger, e.EndPoint, e.FailureType);
        BeginAwaitingEcho();
        Resync(CoherenceResyncReason.SubscriberDisconnected, null);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (_disposed || !CarriesSubscriptions(e))
        {
            return;
        }

        // The events may arrive in either order; both lead to the same state: wait for the echo of a new probe.
        Log.SubscriberRestored(_logger, e.EndPoint);
        BeginAwaitingEcho();
        _localTier.Clear();
    }

    // With RESP2 subscriptions have their own connection; with RESP3 they share the interactive one.
    private bool CarriesSubscriptions(ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            return true;
        }

        if (e.ConnectionType != ConnectionType.Interactive || e.EndPoint is null)
        {
            return false;
        }

        try
        {
            return _multiplexer!.GetServer(e.EndPoint).Protocol == RedisProtocol.Resp3;
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException or NotSupportedException or InvalidOperationException)
        {
            return false;
        }
    }

    private void BeginAwaitingEcho()
    {
        lock (_healthLock)
        {
            _subscriberHealthy = false;
            _awaitingEcho = true;
            Interlocked.Increment(ref _probeNumber);
        }

        if (Interlocked.Exchange(ref _probing, 1) == 0)
        {
            _ = ProbeUntilEchoAsync();
        }
    }

    // Publish probes until this instance hears one back: that proves the channel is subscribed again, and the clear
    // done then covers everything published during the gap. A reconnect that begins while the loop is on its way out
    // finds it still marked running and starts none: so the loop, once it has let go, looks again, and probes on for
    // any probe number it has not sent yet (one it gave up on after 600 attempts is left to the heartbeat).
    private async Task ProbeUntilEchoAsync()
    {
        long probed = 0;
        while (true)
        {
            try
            {
                for (var attempt = 0; attempt < 600 && _awaitingEcho && !_disposed; attempt++)
                {
                    var number = Interlocked.Read(ref _probeNumber);
                    if (number != probed)
                    {
                        probed = number;
                        attempt = 0; // a new reconnect: its own 600 attempts
                    }

                    await PublishHeartbeatAsync(number).ConfigureAwait(false);

                    // On the wall clock, as the SUBSCRIBE back-off: a probe is lost when it goes out before the
                    // multiplexer has resubscribed, and a caller's clock that stands still (a test's) must not hold the next.
                    await Task.Delay(ProbeInterval, TimeProvider.System).ConfigureAwait(false);
                }

                ProbeLoopEnding?.Invoke();
            }
            finally
            {
                Interlocked.Exchange(ref _probing, 0); // a full fence: the checks below read what a reconnect wrote before it looked
            }

            if (!_awaitingEcho || _disposed || Interlocked.Read(ref _probeNumber) == probed || Interlocked.Exchange(ref _probing, 1) != 0)
            {
                return;
            }
        }
    }

    private void OnHeartbeatTimer()
    {
        if (_disposed)
        {
            return;
        }

        var now = _time.GetTimestamp();
        var silence = _time.GetElapsedTime(Volatile.Read(ref _lastSelfHeard), now);
        var limit = _options.HeartbeatInterval * _options.MissedHeartbeatsBeforeResync;
        var becameSilent = false;
        lock (_healthLock)
        {
            if (!_silent && !_awaitingEcho && silence > limit)
            {
                _silent = true;
                becameSilent = true;
                Interlocked.Increment(ref _probeNumber); // from now on only this probe's echo ends the silence
            }
        }

        if (becameSilent)
        {
            Resync(CoherenceResyncReason.SubscriberSilent, null);
        }

        PrunePeers(now, _options.HeartbeatInterval * 20);
        if (ClearOwed)
        {
            _ = PublishOwedClearAsync();
        }

        _ = _awaitingEcho || _silent
            ? PublishHeartbeatAsync(Interlocked.Read(ref _probeNumber))
            : PublishHeartbeatAsync();
    }
}
