using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>
/// A Redis Cluster primary that is down while the others are up: its keys fail at once, as a partial outage
/// (<see cref="CacheConnectionException.IsPartialOutage"/>), instead of each waiting for a connection attempt to it
/// (StackExchange.Redis holds such a command until its timeout, 5 s by default).
/// </summary>
public sealed partial class RedisCache
{
    // Set when a connection to a server fails, cleared when every server is connected again. Only while it is set does
    // a keyed command look up its slot's primary, so a healthy cluster (or a single server) pays one volatile read.
    private volatile bool _someServerDown;

    // The servers as of the last connection event (live views: their state and configuration are current), so the
    // check does not allocate the multiplexer's array on every command while a server is down.
    private IServer[] _servers = [];

    private void NoteConnectionFailed(ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive && _multiplexer is { } multiplexer)
        {
            _servers = multiplexer.GetServers();
            _someServerDown = true;
        }
    }

    private void NoteConnectionRestored()
    {
        if (_multiplexer is { } multiplexer)
        {
            var servers = multiplexer.GetServers();
            _servers = servers;
            if (Array.TrueForAll(servers, static s => s.IsConnected))
            {
                _someServerDown = false;
            }
        }
    }

    /// <summary>Throws a partial-outage <see cref="CacheConnectionException"/> when the Cluster primary serving the key is down and another is up (callers check <c>_someServerDown</c> first).</summary>
    private void ThrowIfShardDown(string key, string operation)
    {
        if (DownShard(PrefixKey(key)) is { } endPoint)
        {
            throw ShardDown(key, operation, endPoint);
        }
    }

    /// <summary>The endpoint of the primary serving a key's slot when it is not connected while another primary is connected and answering (<see cref="AnotherPrimaryAnswering"/>); otherwise <see langword="null"/>.</summary>
    private string? DownShard(RedisKey physical)
    {
        if (_multiplexer is not { IsConnected: true } multiplexer || !IsCluster(multiplexer))
        {
            return null;
        }

        // A slot with no known primary is left to StackExchange.Redis (the configuration may be changing).
        if (PrimaryFor(physical) is not { } endPoint)
        {
            return null;
        }

        // Down while another primary answers: fail at once. When none answers (every primary hung or down) the command
        // goes to StackExchange.Redis and its failure is not partial.
        return multiplexer.GetServer(endPoint).IsConnected || KnownClusterConfiguration() is not { } configuration
               || !AnotherPrimaryAnswering(multiplexer, configuration, [endPoint], _time.GetTimestamp())
            ? null
            : endPoint.ToString();
    }

    private CacheConnectionException ShardDown(string? key, string operation, string endPoint)
    {
        _metrics?.RecordError();
        var described = key is null ? "(no single key)" : TaiCacheDiagnostics.DescribeKey(key);
        if (_failureLog.TryEnter(out var suppressed))
        {
            Log.OperationConnectionFailed(_logger, Name, operation, described, "ShardDown", suppressed);
        }

        var target = key is null ? string.Empty : " on " + described;
        return new CacheConnectionException(
            $"Redis cache '{Name}': {operation}{target} failed at once because the Cluster primary serving it ({endPoint}) is not connected; the other primaries are.", key, innerException: null)
        {
            IsPartialOutage = true,
        };
    }
}
