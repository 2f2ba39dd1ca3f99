using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TaiCache.Memcached.Protocol;
using TaiCache.Serialization;

namespace TaiCache.Memcached;

/// <summary>
/// A memcached backend speaking the meta text protocol (memcached 1.6+) over TaiCache's own pooled client: ketama
/// placement over several servers, dead-node back-off, pipelined batches, and the memcached operations beyond
/// <see cref="ICacheOps"/> (add, replace, compare-and-swap, counters, touch, get-and-touch, flush).
/// </summary>
/// <remarks>
/// <para>Keys are validated before anything is sent: at most 250 UTF-8 bytes including <see cref="MemcachedCacheOptions.KeyPrefix"/>
/// (unless <see cref="MemcachedCacheOptions.HashLongKeys"/>), no spaces, no control characters. Values go through the
/// TaiCache envelope and are stored with client flags <see cref="ClientFlags"/>; a value over the item size limit throws
/// <see cref="CacheValueTooLargeException"/> before sending.</para>
/// <para>memcached counts whole seconds and may drop an item up to a second before its exptime, so TTLs are sent rounded
/// up plus one second, and a TaiCache value ends on time by the expiry its envelope records (see
/// <see cref="MemcachedExpiry"/>; items without an envelope, such as counters, live by the server's seconds). Above 30
/// days memcached reads the number as a unix time, so such TTLs are sent as now (from
/// <see cref="MemcachedCacheOptions.TimeProvider"/>) plus the TTL; memcached's 32-bit clock caps expiry at 2038-01-19.</para>
/// <para>See <c>docs/memcached.md</c> for the protocol choice, the failover policy and the stored format.</para>
/// </remarks>
public sealed partial class MemcachedCache : ICacheOps, IBatchReader, IPartialBatchReader, IConditionalWriter, IKeyLimited
{
    /// <summary>The client flags TaiCache stores with its values: <c>0x54430001</c> ("TC", envelope format 1). Counters carry 0.</summary>
    public const uint ClientFlags = 0x5443_0001;

    private const long ThirtyDaysSeconds = 30L * 24 * 60 * 60;

    private readonly MemcachedCacheOptions _options;
    private readonly MemcachedNode[] _nodes;
    private readonly KetamaLocator<MemcachedNode>? _locator;
    private readonly CacheValueCodec _codec;
    private readonly ILogger _logger;
    private readonly Metrics.MetricsCollector? _metrics;
    private readonly string _prefix;
    private readonly int _prefixBytes;
    private readonly int _maxUserKeyBytes;
    private int _disposed;

    /// <summary>Initializes the cache. No connection is opened until the first operation.</summary>
    /// <param name="options">The settings; copied, so later changes have no effect.</param>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public MemcachedCache(MemcachedCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _logger = (ILogger?)_options.LoggerFactory?.CreateLogger<MemcachedCache>() ?? NullLogger.Instance;
        _codec = new CacheValueCodec(_options.Serialization);
        _metrics = _options.Metrics;
        _prefix = _options.KeyPrefix;
        _prefixBytes = System.Text.Encoding.UTF8.GetByteCount(_prefix);
        _maxUserKeyBytes = _options.HashLongKeys ? int.MaxValue : MemcachedCacheOptions.MaxKeyBytes - _prefixBytes;
        _nodes = _options.ServersCopy.Select(s => new MemcachedNode(s, _options, _logger) { OneOfSeveral = _options.ServersCopy.Count > 1 }).ToArray();
        foreach (var node in _nodes)
        {
            node.Siblings = _nodes;
        }

        if (_nodes.Length > 1)
        {
            _locator = new KetamaLocator<MemcachedNode>(_nodes.Select(n => (n, KetamaName(n.Server, _options.KetamaOmitsDefaultPort), n.Server.Weight)).ToList());
        }
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    int IKeyLimited.MaxKeyBytes => _maxUserKeyBytes;

    /// <inheritdoc />
    string IKeyLimited.KeyLimitOption => "MemcachedCacheOptions.MaxKeyBytes (250 bytes with the KeyPrefix; no limit under HashLongKeys)";

    /// <inheritdoc />
    bool IKeyLimited.AllowsSpaces => false;

    /// <summary>The name a server is hashed under on the ketama ring.</summary>
    internal static string KetamaName(MemcachedServer server, bool omitDefaultPort) =>
        omitDefaultPort && server.Port == MemcachedServer.DefaultPort ? server.Host : server.ToString();

    /// <summary>Gets the servers, in the order configured.</summary>
    public IReadOnlyList<MemcachedServer> Servers => _options.ServersCopy;

    /// <inheritdoc />
    public async ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var wire = WireKey(key);
        var started = _metrics?.StartTimingAlways() ?? 0;
        var response = await RoundTripAsync(key, wire, 0L, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, opaque: o), cancellationToken).ConfigureAwait(false);
        await GiveBackRecacheTokenAsync(key, wire, response, cancellationToken).ConfigureAwait(false);
        return ToResult<T>(key, response, started);
    }

    /// <inheritdoc />
    public async ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        _ = await StoreAsync(key, value, ttl, mode: 0, cas: 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var wire = WireKey(key);
        var response = await RoundTripAsync(key, wire, 0, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteDelete(w, k, opaque: o), cancellationToken).ConfigureAwait(false);
        var removed = Expect(response, key, MetaResponseCode.Stored, MetaResponseCode.NotFound) == MetaResponseCode.Stored;
        _metrics?.RecordDelete();
        return removed;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        var wire = WireKey(key);
        var response = await RoundTripAsync(key, wire, 0L, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: false, opaque: o, withFlags: true), cancellationToken).ConfigureAwait(false);
        if (Expect(response, key, MetaResponseCode.Stored, MetaResponseCode.Miss) == MetaResponseCode.Miss)
        {
            return false;
        }

        if (response.IsStale)
        {
            await GiveBackRecacheTokenAsync(key, wire, response, cancellationToken).ConfigureAwait(false);
            return false; // invalidated by another meta client (md key I), as a get reads it
        }

        if (response.ClientFlags != ClientFlags || !MemcachedExpiry.MayHaveExpired(response.RemainingTtl))
        {
            return true;
        }

        // In its last seconds on the server a TaiCache value may already have expired by its record: read it to know.
        var read = await RoundTripAsync(key, wire, 0L, idempotent: true, static (w, k, o, _) => MetaRequestWriter.WriteGet(w, k, withValue: true, opaque: o), cancellationToken).ConfigureAwait(false);
        await GiveBackRecacheTokenAsync(key, wire, read, cancellationToken).ConfigureAwait(false); // invalidated in between
        // An item too large to read (its bytes discarded) is there, as another client's unreadable item is.
        return Expect(read, key, MetaResponseCode.Value, MetaResponseCode.Miss) == MetaResponseCode.Value && (read.IsOversize || IsLive(read, Now(), out _));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var node in _nodes)
            {
                node.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Gets the number of open connections over all nodes (for tests and diagnostics).</summary>
    internal int OpenConnectionCount => _nodes.Sum(n => n.OpenConnections);

    /// <summary>Gets the nodes, in the order of <see cref="MemcachedCacheOptions.Servers"/>.</summary>
    internal IReadOnlyList<MemcachedNode> Nodes => _nodes;

    /// <summary>Gets the server a key is sent to (after prefix and hashing), for diagnostics and tests.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The owning server on the ketama ring, ignoring node health.</returns>
    public MemcachedServer GetServerForKey(string key)
    {
        var wire = WireKey(key);
        return (_locator?.Locate(wire) ?? _nodes[0]).Server;
    }
}
