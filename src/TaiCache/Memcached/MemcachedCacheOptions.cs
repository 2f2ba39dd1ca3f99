using Microsoft.Extensions.Logging;
using TaiCache.Serialization;

namespace TaiCache.Memcached;

/// <summary>Settings for <see cref="MemcachedCache"/>. Validated and copied when the cache is built.</summary>
public sealed class MemcachedCacheOptions
{
    /// <summary>The longest timeout or retry interval taken (a day).</summary>
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(1);

    /// <summary>The longest key memcached accepts, in bytes.</summary>
    public const int MaxKeyBytes = 250;

    /// <summary>The bytes memcached's item header takes beside key and value (measured on 1.6.18: 59; rounded up).</summary>
    internal const int ItemOverheadBytes = 64;

    /// <summary>Gets or sets the cache's name, used in metrics, logs and messages. Default <c>memcached</c>.</summary>
    public string Name { get; set; } = "memcached";

    /// <summary>Gets the servers (ketama ring). At least one is required, each listed once (a server's <see cref="MemcachedServer.Weight"/> gives it more keys).</summary>
    public IList<MemcachedServer> Servers { get; } = [];

    /// <summary>Gets or sets a prefix put before every key (a namespace), counted in the 250-byte limit. Default none.</summary>
    public string KeyPrefix { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets a value indicating whether keys longer than 250 bytes (with the prefix) are replaced by
    /// <c>prefix + "sha256:" + hex(SHA-256(key))</c> instead of rejected. A key that itself starts with <c>sha256:</c>
    /// is hashed the same way, so it never names a long key's item. Default <see langword="false"/>.
    /// </summary>
    public bool HashLongKeys { get; set; }

    /// <summary>Gets or sets the server's item size limit (memcached <c>-I</c>, default 1 MiB). Larger values are refused before sending.</summary>
    public int MaxItemBytes { get; set; } = 1024 * 1024;

    /// <summary>Gets or sets the expiry used when a call passes no TTL; <see langword="null"/> (default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets the most connections per server. Default 32.</summary>
    public int MaxConnectionsPerNode { get; set; } = 32;

    /// <summary>Gets or sets how long a connect may take. Default 2 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets or sets how long an operation may go without progress before it fails with <see cref="CacheTimeoutException"/>
    /// (and the node's timeout count, see <see cref="FailureThreshold"/>, goes up). Default 1 s.
    /// </summary>
    /// <remarks>
    /// <para>This is a stall timeout, not a total: the clock restarts whenever the socket takes a piece of the request
    /// (sent in 256 KiB pieces) or a byte of the response arrives; the time spent writing the request into the buffer,
    /// before the send starts, does not count. A small operation answers in one piece, so for it
    /// this is the time to the answer; a large one (a batch of big values, megabytes each way) runs as long as it keeps
    /// moving, so a healthy node that is only busy sending is never timed out or marked down, while a server that stops
    /// answering (hung, stopped, cut off) is detected one timeout after its last byte.</para>
    /// <para>A batch's window is one timeout per 1,000 keys on a node (at least one), because memcached answers misses
    /// of a pipelined get silently and may work through many keys without a byte back. To bound a call's total time,
    /// pass a <see cref="CancellationToken"/> that cancels after it.</para>
    /// </remarks>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how long a call waits for a free pooled connection. Default 2 s; at most 1 day.</summary>
    public TimeSpan PoolTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets how many timeouts in a row mark a node down (a refused or failed connect marks it down at once). Default 3.</summary>
    public int FailureThreshold { get; set; } = 3;

    /// <summary>
    /// Gets or sets how long after a node is marked down its background probe (a connect and a no-op; callers never dial
    /// a down node) first tries it; the interval doubles after each failed probe. Default 1 s.
    /// </summary>
    public TimeSpan DeadNodeRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest interval between probes of a down node, so the longest a restarted server waits to be used again. Default 5 s.</summary>
    public TimeSpan MaxDeadNodeRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets a value indicating whether servers on port 11211 are named by host alone on the ketama ring
    /// (<c>"host-N"</c>), as libmemcached does; <see langword="false"/> always hashes <c>"host:port-N"</c>, as Enyim does.
    /// Other ports are <c>"host:port-N"</c> either way. Default <see langword="true"/> (libmemcached layout).
    /// </summary>
    public bool KetamaOmitsDefaultPort { get; set; } = true;

    /// <summary>Gets or sets what happens to keys of a down node. Default <see cref="MemcachedFailoverPolicy.FailFast"/>.</summary>
    public MemcachedFailoverPolicy FailoverPolicy { get; set; } = MemcachedFailoverPolicy.FailFast;

    /// <summary>Gets or sets the serializer settings (default MessagePack).</summary>
    public CacheSerializationOptions Serialization { get; set; } = new();

    /// <summary>Gets or sets the clock (TTL beyond 30 days, back-off, timeouts). Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger factory; none logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Gets or sets the metrics collector that records hits, misses, sets, deletes and errors; none by default.</summary>
    public Metrics.MetricsCollector? Metrics { get; set; }

    /// <summary>What is wrong with a key prefix (a sentence to follow its name), or <see langword="null"/> when it is fine.</summary>
    /// <param name="prefix">The prefix, not null.</param>
    /// <returns>The problem, or <see langword="null"/>.</returns>
    internal static string? KeyPrefixProblem(string prefix)
    {
        if (!prefix.All(c => c > ' ' && !char.IsControl(c) && !char.IsSurrogate(c)))
        {
            return "must not hold spaces, control characters or surrogates.";
        }

        return System.Text.Encoding.UTF8.GetByteCount(prefix) > 100 ? "must be at most 100 UTF-8 bytes." : null;
    }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        Check(!string.IsNullOrWhiteSpace(Name), "MemcachedCacheOptions.Name must not be empty.", nameof(Name));
        Check(Servers.Count > 0 && Servers.All(s => s is not null), "MemcachedCacheOptions.Servers must name at least one server (and no null entries).", nameof(Servers));
        var twice = Servers.GroupBy(s => s.ToString(), StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        Check(twice is null, $"MemcachedCacheOptions.Servers lists {twice?.Key} more than once; list each server once and give it a larger Weight for more of the keys.", nameof(Servers));
        if (Servers.Count > 1)
        {
            var totalWeight = Servers.Sum(s => (long)s.Weight);
            var starved = Servers.FirstOrDefault(s => KetamaLocator<MemcachedServer>.PointsFor(s.Weight, totalWeight, Servers.Count) == 0);
            Check(starved is null, $"MemcachedCacheOptions.Servers: {starved} has weight {starved?.Weight} of {totalWeight}, too little for a point on the ketama ring (floor(weight / total * 40 * servers) * 4 is 0), so it would never receive a key; raise its weight or remove it.", nameof(Servers));
        }

        Check(KeyPrefix is not null, "MemcachedCacheOptions.KeyPrefix must not be null (use an empty string).", nameof(KeyPrefix));
        var prefixProblem = KeyPrefixProblem(KeyPrefix!);
        Check(prefixProblem is null, $"MemcachedCacheOptions.KeyPrefix {prefixProblem}", nameof(KeyPrefix));

        Check(MaxItemBytes >= 1024, "MemcachedCacheOptions.MaxItemBytes must be at least 1024.", nameof(MaxItemBytes));
        Check(DefaultTtl is null || DefaultTtl > TimeSpan.Zero, "MemcachedCacheOptions.DefaultTtl must be positive or null.", nameof(DefaultTtl));
        Check(MaxConnectionsPerNode is >= 1 and <= 10_000, "MemcachedCacheOptions.MaxConnectionsPerNode must be between 1 and 10000.", nameof(MaxConnectionsPerNode));
        // At most a day: the timers behind them take at most about 49.7 days, and a batch's window is a multiple of OperationTimeout.
        Check(ConnectTimeout > TimeSpan.Zero && ConnectTimeout <= MaxTimeout, "MemcachedCacheOptions.ConnectTimeout must be positive and at most 1 day.", nameof(ConnectTimeout));
        Check(OperationTimeout > TimeSpan.Zero && OperationTimeout <= MaxTimeout, "MemcachedCacheOptions.OperationTimeout must be positive and at most 1 day.", nameof(OperationTimeout));
        Check(PoolTimeout > TimeSpan.Zero && PoolTimeout <= MaxTimeout, "MemcachedCacheOptions.PoolTimeout must be positive and at most 1 day.", nameof(PoolTimeout));
        Check(FailureThreshold >= 1, "MemcachedCacheOptions.FailureThreshold must be at least 1.", nameof(FailureThreshold));
        Check(DeadNodeRetryInterval > TimeSpan.Zero && DeadNodeRetryInterval <= MaxTimeout, "MemcachedCacheOptions.DeadNodeRetryInterval must be positive and at most 1 day.", nameof(DeadNodeRetryInterval));
        Check(MaxDeadNodeRetryInterval >= DeadNodeRetryInterval && MaxDeadNodeRetryInterval <= MaxTimeout, "MemcachedCacheOptions.MaxDeadNodeRetryInterval must be at least DeadNodeRetryInterval and at most 1 day.", nameof(MaxDeadNodeRetryInterval));
        Check(Enum.IsDefined(FailoverPolicy), "MemcachedCacheOptions.FailoverPolicy is not a known policy.", nameof(FailoverPolicy));
        Check(Serialization is not null, "MemcachedCacheOptions.Serialization must not be null.", nameof(Serialization));
        Check(TimeProvider is not null, "MemcachedCacheOptions.TimeProvider must not be null.", nameof(TimeProvider));
    }

    /// <summary>Copies the settings, so later changes to this object do not reach a built cache.</summary>
    /// <returns>The copy.</returns>
    internal MemcachedCacheOptions Clone()
    {
        var copy = (MemcachedCacheOptions)MemberwiseClone();
        var servers = new List<MemcachedServer>(Servers);
        copy.ServersCopy = servers;
        return copy;
    }

    /// <summary>Gets the servers of a copy made by <see cref="Clone"/>.</summary>
    internal IReadOnlyList<MemcachedServer> ServersCopy { get; private set; } = [];

    private static void Check(bool ok, string message, string name)
    {
        if (!ok)
        {
            throw new ArgumentException(message, name);
        }
    }
}
