namespace TaiCache.DependencyInjection;

/// <summary>
/// The memcached tier of a cache registered with <c>AddTaiCache</c>; configuration section <c>Memcached</c>. The tier
/// exists when <see cref="Servers"/> names at least one server.
/// </summary>
public sealed class TaiCacheMemcachedSettings
{
    /// <summary>Gets the servers, each <c>host</c>, <c>host:port</c> or <c>host:port:weight</c> (<c>[v6]:port</c> for IPv6).</summary>
    public IList<string> Servers { get; } = new List<string>();

    /// <summary>Gets or sets the namespace every key is stored under. Default empty.</summary>
    public string KeyPrefix { get; set; } = string.Empty;

    /// <summary>Gets or sets a value indicating whether keys over 250 bytes are hashed instead of refused. Default <see langword="false"/>.</summary>
    public bool HashLongKeys { get; set; }

    /// <summary>Gets or sets the longest one operation may take. Default 1 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets what happens to keys of a server marked dead. Default <see cref="Memcached.MemcachedFailoverPolicy.FailFast"/>.</summary>
    public Memcached.MemcachedFailoverPolicy FailoverPolicy { get; set; } = Memcached.MemcachedFailoverPolicy.FailFast;

    /// <summary>Gets or sets the time to live of entries set without one; <see langword="null"/> (the default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets a hook run on the tier's options after the settings above are applied (code only, not bound).</summary>
    public Action<Memcached.MemcachedCacheOptions>? Configure { get; set; }

    internal bool IsEnabled => Servers.Count > 0;
}
