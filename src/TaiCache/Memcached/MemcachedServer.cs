using System.Globalization;

namespace TaiCache.Memcached;

/// <summary>One memcached server: host, port and its weight on the ketama ring.</summary>
public sealed class MemcachedServer
{
    /// <summary>memcached's default port.</summary>
    public const int DefaultPort = 11211;

    /// <summary>Initializes a server.</summary>
    /// <param name="host">The host name or IP address.</param>
    /// <param name="port">The TCP port.</param>
    /// <param name="weight">The relative share of keys (ketama weight), at least 1.</param>
    public MemcachedServer(string host, int port = DefaultPort, int weight = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        Host = host;
        Port = port;
        Weight = weight;
    }

    /// <summary>Gets the host name or IP address.</summary>
    public string Host { get; }

    /// <summary>Gets the TCP port.</summary>
    public int Port { get; }

    /// <summary>Gets the ketama weight.</summary>
    public int Weight { get; }

    /// <summary>Parses <c>host</c>, <c>host:port</c> or <c>host:port:weight</c> (IPv6 hosts in brackets: <c>[::1]:11211</c>).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The server.</returns>
    /// <exception cref="FormatException">The text is not a server.</exception>
    public static MemcachedServer Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var s = text.Trim();
        string host;
        string rest;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"'{text}' is not a memcached server (unclosed '[').");
            }

            host = s[1..close];
            rest = s[(close + 1)..].TrimStart(':');
        }
        else
        {
            var colon = s.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? s : s[..colon];
            rest = colon < 0 ? string.Empty : s[(colon + 1)..];
        }

        var parts = rest.Length == 0 ? [] : rest.Split(':');
        var port = DefaultPort;
        var weight = 1;
        if ((parts.Length >= 1 && !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out port))
            || (parts.Length >= 2 && !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out weight))
            || parts.Length > 2 || host.Length == 0 || port is < 1 or > 65535 || weight < 1)
        {
            throw new FormatException($"'{text}' is not a memcached server; use host, host:port or host:port:weight.");
        }

        return new MemcachedServer(host, port, weight);
    }

    /// <summary>Returns <c>host:port</c>, the name the ketama ring hashes.</summary>
    /// <returns>The server's address.</returns>
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal)
        ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}"
        : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
