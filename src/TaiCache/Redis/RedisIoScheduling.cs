namespace TaiCache.Redis;

/// <summary>
/// Where a connection that <see cref="RedisCache"/> opens itself reads its socket and completes its commands (the
/// StackExchange.Redis <c>SocketManager</c>). Ignored when the cache is given a multiplexer, or a
/// <see cref="RedisCacheOptions.Configuration"/> that names a <c>SocketManager</c> of its own.
/// </summary>
public enum RedisIoScheduling
{
    /// <summary>
    /// The .NET thread pool (<c>SocketManager.ThreadPool</c>), the default. A reply is read and handed to its caller
    /// without waking a second thread, which on a 2-core machine gave about 1.2x the throughput of the dedicated
    /// threads at about 30% less client CPU per key (docs/benchmarks.md, session 7). TaiCache only ever awaits Redis,
    /// so it needs no thread of its own to make progress; an application that blocks pool threads on async work
    /// (sync over async) slows every reply, as it slows everything else awaited.
    /// </summary>
    ThreadPool,

    /// <summary>
    /// StackExchange.Redis's own shared reader threads (<c>SocketManager.Shared</c>, its default). Replies are still
    /// read while the application starves the thread pool, which helps synchronous StackExchange.Redis calls made on
    /// the cache's <see cref="RedisCache.Multiplexer"/>. TaiCache's own calls gain little from it: each still needs a
    /// pool thread to finish, in either mode.
    /// </summary>
    Dedicated,
}
