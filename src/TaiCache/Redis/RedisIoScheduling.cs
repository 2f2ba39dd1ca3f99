namespace TaiCache.Redis;

/// <summary>
/// Where a connection that <see cref="RedisCache"/> opens itself reads its socket (the StackExchange.Redis
/// <c>SocketManager</c>). Ignored when the cache is given a multiplexer, or a <see cref="RedisCacheOptions.Configuration"/>
/// that names a <c>SocketManager</c> of its own. docs/redis.md has the measurements behind the trade-off.
/// </summary>
public enum RedisIoScheduling
{
    /// <summary>
    /// StackExchange.Redis's own shared reader threads (<c>SocketManager.Shared</c>, its default), the default here.
    /// Replies are read even while the application keeps every thread-pool thread busy, so a burst of blocked pool
    /// threads (sync over async, a cold start under load) times calls out less often than on the thread pool (it still
    /// delays them: each needs a pool thread to finish). A reply is handed from the reader thread to a pool thread,
    /// which costs a thread wake-up per reply.
    /// </summary>
    Dedicated,

    /// <summary>
    /// The .NET thread pool (<c>SocketManager.ThreadPool</c>): no hand-off from a reader thread. On a 2-core machine it
    /// gave 1.17-1.23x the batch throughput at about 30% less client CPU per key, and half the single-read latency.
    /// The cost: replies are read only when a pool thread is free, so while the pool is starved calls fail with
    /// <see cref="CacheTimeoutException"/> (and a tier's circuit breaker can open) more often than on
    /// <see cref="Dedicated"/>. Choose it for services that never block pool threads.
    /// </summary>
    ThreadPool,
}
