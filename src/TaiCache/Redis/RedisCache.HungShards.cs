using System.Collections.Concurrent;
using System.Net;
using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>
/// A Redis Cluster primary that is hung (connected, answering nothing) while the others answer: its commands time out
/// as a partial outage (<see cref="CacheTimeoutException.IsPartialOutage"/>), so a multi-tier cache's breaker does not
/// open for every slot before StackExchange.Redis declares the connection dead (then <see cref="ThrowIfShardDown"/>
/// takes over). Each timeout marks the primaries it waited on; a timeout is partial while another primary is connected
/// and has not been marked lately, so when every primary times out, each counts as a failure from its first timeout
/// on but the first.
/// </summary>
public sealed partial class RedisCache
{
    // The primaries whose commands timed out lately, with when (a TimeProvider timestamp).
    private readonly ConcurrentDictionary<EndPoint, long> _timedOutShards = new();

    /// <summary>Gets how long a timed-out primary stays marked: four operation timeouts, at least five seconds.</summary>
    private TimeSpan TimedOutShardMemory => _timeout * 4 > TimeSpan.FromSeconds(5) ? _timeout * 4 : TimeSpan.FromSeconds(5);

    /// <summary>The Cluster configuration as a connected server last saw it, or <see langword="null"/> when none is known.</summary>
    private ClusterConfiguration? KnownClusterConfiguration()
    {
        if (_servers.Length == 0 && _multiplexer is { } multiplexer)
        {
            _servers = multiplexer.GetServers(); // armed by a failed command before any event
        }

        foreach (var server in _servers)
        {
            if (server.IsConnected && server.ClusterConfiguration is { } known)
            {
                return known;
            }
        }

        return null;
    }

    /// <summary>The primary serving a physical key's slot, or <see langword="null"/> when no configuration names one (it may be changing).</summary>
    private EndPoint? PrimaryFor(RedisKey physical) => KnownClusterConfiguration()?.GetBySlot(physical)?.EndPoint;

    /// <summary>
    /// The primaries of the commands of a batch that did not complete or timed out, keyed by <paramref name="keyOf"/>
    /// (a physical key of each command); the primaries of the commands that completed are unmarked, as they answered.
    /// </summary>
    private EndPoint[] SlowShards(Task[] tasks, Func<int, RedisKey> keyOf)
    {
        if (_multiplexer is not { } multiplexer || !IsCluster(multiplexer) || KnownClusterConfiguration() is not { } configuration)
        {
            return [];
        }

        var slow = new List<EndPoint>();
        var answered = new List<EndPoint>();
        for (var i = 0; i < tasks.Length; i++)
        {
            if (configuration.GetBySlot(keyOf(i))?.EndPoint is not { } endPoint)
            {
                continue;
            }

            var task = tasks[i];
            var timedOut = task is null || !task.IsCompleted || task.Exception?.InnerException is TimeoutException;
            var list = timedOut ? slow : task!.IsCompletedSuccessfully ? answered : null;
            if (list is not null && !list.Contains(endPoint))
            {
                list.Add(endPoint);
            }
        }

        foreach (var endPoint in answered)
        {
            if (!slow.Contains(endPoint))
            {
                _timedOutShards.TryRemove(endPoint, out _);
            }
        }

        return [.. slow];
    }

    /// <summary>
    /// Marks the primaries a timed-out command waited on (<paramref name="slowShards"/>, or the primary of
    /// <paramref name="key"/>'s slot) and tells whether the timeout is partial: another primary of the Cluster is
    /// connected and has not timed out within <see cref="TimedOutShardMemory"/>.
    /// </summary>
    /// <param name="key">The logical key of a single-key command, or <see langword="null"/>.</param>
    /// <param name="slowShards">The primaries of a batch's commands that timed out, or <see langword="null"/> for a single-key command.</param>
    /// <param name="hung">The endpoint of the hung primary, for the message, when there is one.</param>
    private bool IsPartialTimeout(string? key, EndPoint[]? slowShards, out string? hung)
    {
        hung = null;
        if (_multiplexer is not { IsConnected: true } multiplexer || !IsCluster(multiplexer) || KnownClusterConfiguration() is not { } configuration)
        {
            return false;
        }

        if (slowShards is null)
        {
            slowShards = key is not null && configuration.GetBySlot(PrefixKey(key))?.EndPoint is { } primary ? [primary] : [];
        }

        if (slowShards.Length == 0)
        {
            return false;
        }

        var now = _time.GetTimestamp();
        foreach (var endPoint in slowShards)
        {
            _timedOutShards[endPoint] = now;
        }

        if (AnotherPrimaryAnswering(multiplexer, configuration, slowShards, now))
        {
            hung = string.Join(", ", slowShards.Select(static e => e.ToString()));
            return true;
        }

        return false;
    }

    /// <summary>
    /// Whether a primary of the Cluster other than <paramref name="excluded"/> is connected and has not timed out
    /// within <see cref="TimedOutShardMemory"/> (so a failure of the excluded ones is a partial outage).
    /// </summary>
    private bool AnotherPrimaryAnswering(IConnectionMultiplexer multiplexer, ClusterConfiguration configuration, EndPoint[] excluded, long now)
    {
        var memory = TimedOutShardMemory;
        foreach (var node in configuration.Nodes)
        {
            if (node.IsReplica || node.EndPoint is not { } endPoint || Array.IndexOf(excluded, endPoint) >= 0)
            {
                continue;
            }

            var answering = !_timedOutShards.TryGetValue(endPoint, out var at) || _time.GetElapsedTime(at, now) > memory;
            if (answering && multiplexer.GetServer(endPoint).IsConnected)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a connection failure of a Cluster command is partial: the primary serving <paramref name="key"/>'s slot
    /// (any, for a batch) failed while another primary is connected and answering.
    /// </summary>
    private bool IsPartialConnectionFailure(string? key)
    {
        if (_multiplexer is not { IsConnected: true } multiplexer || !IsCluster(multiplexer))
        {
            return false;
        }

        if (KnownClusterConfiguration() is not { } configuration)
        {
            return true; // connected to some server of a Cluster; which ones answer is not known
        }

        EndPoint[] failed = key is not null && configuration.GetBySlot(PrefixKey(key))?.EndPoint is { } primary ? [primary] : [];
        return AnotherPrimaryAnswering(multiplexer, configuration, failed, _time.GetTimestamp());
    }
}
