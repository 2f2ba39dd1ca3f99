using System.Net;
using StackExchange.Redis;

namespace TaiCache.Redis;

/// <summary>How StackExchange.Redis failures become TaiCache exceptions, without secrets or raw keys.</summary>
public sealed partial class RedisCache
{
    /// <summary>
    /// Whether a failure is Redis's to translate. A cancellation counts when no token asked for it: StackExchange.Redis
    /// cancels the commands still waiting on a connection it declares dead (a stalled server), and the caller's own
    /// cancellation always carries the caller's token, already cancelled.
    /// A pipe's <see cref="InvalidOperationException"/> counts too: a command caught on a connection being torn down
    /// can meet its completed reader ("Reading is not allowed after reader was completed").
    /// </summary>
    private static bool IsTranslatable(Exception ex) =>
        ex is RedisException or RedisCommandException or TimeoutException
            or OperationCanceledException { CancellationToken.IsCancellationRequested: false }
            or InvalidOperationException { Source: PipelinesAssembly };

    private const string PipelinesAssembly = "System.IO.Pipelines";

    /// <summary>
    /// The StackExchange.Redis exception to keep as the inner exception, or <see langword="null"/> when its text may
    /// hold a key (a shared connection with <c>IncludeDetailInExceptions</c> on; connections the cache builds turn it
    /// off). StackExchange.Redis never puts a password in its messages.
    /// </summary>
    private Exception? InnerFor(Exception ex)
    {
#pragma warning disable CS0618 // still the only way to read the setting of a connection someone else configured
        var detailed = !_ownsMultiplexer && _multiplexer is ConnectionMultiplexer { IncludeDetailInExceptions: true };
#pragma warning restore CS0618
        return detailed ? null : ex;
    }

    /// <summary>
    /// Turns a Redis or timeout failure into the matching <see cref="CacheException"/>, logs it and counts it; a failure
    /// of a call that the cache's disposal cut off (its own connection closed under it) is an
    /// <see cref="ObjectDisposedException"/>, as a call made after it is, not a connection failure.
    /// </summary>
    /// <param name="ex">The failure.</param>
    /// <param name="key">The logical key the operation was about, if any.</param>
    /// <param name="operation">The Redis command, for the message.</param>
    /// <param name="slowShards">For a batch on a Cluster, the primaries of its commands that timed out (<see cref="SlowShards"/>); a single-key command's is found from <paramref name="key"/>.</param>
    /// <returns>The exception to throw.</returns>
    private Exception Translate(Exception ex, string? key, string operation, EndPoint[]? slowShards = null)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return new ObjectDisposedException(GetType().FullName, $"Redis cache '{Name}' was disposed while {operation} ran.");
        }

        _metrics?.RecordError();
        var described = key is null ? "(no single key)" : TaiCacheDiagnostics.DescribeKey(key);
        var target = key is null ? string.Empty : " on " + described;
        switch (ex)
        {
            case RedisConnectionException connection:
                if (_failureLog.TryEnter(out var suppressed))
                {
                    Log.OperationConnectionFailed(_logger, Name, operation, described, connection.FailureType.ToString(), suppressed);
                }

                // A Cluster with other primaries up: this key's primary is the one down (a partial outage).
                if (IsPartialConnectionFailure(key))
                {
                    _someServerDown = true; // the next keyed command checks its primary first, even if the event comes later
                    return new CacheConnectionException(
                        $"Redis cache '{Name}': {operation}{target} failed because the Redis server for its slot could not be reached ({connection.FailureType}); other Cluster primaries are connected and answering.", key, InnerFor(ex))
                    {
                        IsPartialOutage = true,
                    };
                }

                return new CacheConnectionException(
                    $"Redis cache '{Name}': {operation}{target} failed because no Redis server could be reached ({connection.FailureType}).", key, InnerFor(ex));

            case TimeoutException when _multiplexer is null || !_multiplexer.IsConnected:
                if (_failureLog.TryEnter(out var unreachable))
                {
                    Log.OperationConnectionFailed(_logger, Name, operation, described, "NotConnected", unreachable);
                }

                return new CacheConnectionException(
                    $"Redis cache '{Name}': {operation}{target} failed because no Redis server was reachable within {_timeout.TotalMilliseconds:0} ms.", key, InnerFor(ex));

            case TimeoutException:
                if (_failureLog.TryEnter(out var slow))
                {
                    Log.OperationTimedOut(_logger, Name, operation, described, _timeout.TotalMilliseconds, slow);
                }

                // A Cluster with another primary answering: the primary (or primaries) waited on is hung (a partial outage).
                var partial = IsPartialTimeout(key, slowShards, out var hung);
                var why = partial ? $"; the Cluster primary serving it ({hung}) is not answering, others are" : string.Empty;
                return new CacheTimeoutException(
                    $"Redis cache '{Name}': {operation}{target} did not complete within {_timeout.TotalMilliseconds:0} ms{why}.", key, InnerFor(ex))
                {
                    IsPartialOutage = partial,
                };

            case OperationCanceledException:
            case InvalidOperationException:
                if (_failureLog.TryEnter(out var dropped))
                {
                    Log.OperationConnectionFailed(_logger, Name, operation, described, "ConnectionDeclaredDead", dropped);
                }

                return new CacheConnectionException(
                    $"Redis cache '{Name}': {operation}{target} failed because its connection was closed while it waited for the reply (the server stopped answering).", key, InnerFor(ex));

            case RedisServerException server when server.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal):
                Log.WrongType(_logger, Name, operation, described);
                return new CacheWrongTypeException(
                    $"Redis cache '{Name}': {operation}{target} met a key holding another kind of value (Redis WRONGTYPE).", key, InnerFor(ex));

            case RedisServerException server when server.Message.Contains("not an integer", StringComparison.Ordinal)
                                                || server.Message.Contains("not a valid float", StringComparison.Ordinal):
                Log.WrongType(_logger, Name, operation, described);
                return new CacheWrongTypeException(
                    $"Redis cache '{Name}': {operation}{target} met a value that is not a number (a counter must hold a plain integer).", key, InnerFor(ex));

            case RedisServerException server when server.Message.Contains("would overflow", StringComparison.Ordinal):
                Log.ServerError(_logger, Name, operation, described, "overflow");
                return new CacheException(
                    $"Redis cache '{Name}': {operation}{target} was refused because it would take the counter outside the 64-bit signed range.", key, InnerFor(ex));

            case RedisServerException server:
                var code = ErrorCode(server.Message);
                Log.ServerError(_logger, Name, operation, described, code);
                return code is "NOAUTH" or "WRONGPASS" or "NOPERM"
                    ? new CacheConnectionException($"Redis cache '{Name}': {operation}{target} was refused by the server ({code}); check the user's password and ACL.", key, InnerFor(ex))
                    : new CacheException($"Redis cache '{Name}': {operation}{target} was refused by the server ({code}).", key, InnerFor(ex));

            default:
                Log.ServerError(_logger, Name, operation, described, ex.GetType().Name);
                return new CacheException($"Redis cache '{Name}': {operation}{target} failed ({ex.GetType().Name}).", key, InnerFor(ex));
        }
    }

    /// <summary>The leading upper-case word of a Redis error ("WRONGTYPE", "NOPERM", "ERR"): safe to print, unlike the rest.</summary>
    private static string ErrorCode(string message)
    {
        var end = 0;
        while (end < message.Length && end < 32 && char.IsAsciiLetterUpper(message[end]))
        {
            end++;
        }

        return end == 0 ? "ERR" : message[..end];
    }
}
