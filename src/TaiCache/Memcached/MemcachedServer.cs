using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TaiCache.Memcached;

/// <summary>One memcached server: host, port and its weight on the ketama ring.</summary>
public sealed class MemcachedServer
{
    /// <summary>memcached's default port.</summary>
    public const int DefaultPort = 11211;

    /// <summary>Initializes a server.</summary>
    /// <param name="host">The host name or IP address, without a port or brackets (<c>10.0.0.1</c>, <c>::1</c>, <c>cache-1</c>); <see cref="Parse"/> takes <c>host:port</c>.</param>
    /// <param name="port">The TCP port.</param>
    /// <param name="weight">The relative share of keys (ketama weight), at least 1.</param>
    /// <exception cref="ArgumentException"><paramref name="host"/> is blank, holds spaces or control characters, or holds a port or brackets.</exception>
    public MemcachedServer(string host, int port = DefaultPort, int weight = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        if (HostProblem(host) is { } problem)
        {
            throw new ArgumentException($"'{Printable(host)}' is not a host name or IP address: {problem}", nameof(host));
        }

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

        if (HostProblem(host) is { } problem)
        {
            throw new FormatException($"'{Printable(text)}' is not a memcached server: its host {problem}");
        }

        return new MemcachedServer(host, port, weight);
    }

    /// <summary>What is wrong with a host (a clause), or <see langword="null"/> when it is a host name or an address.</summary>
    private static string? HostProblem(string host)
    {
        if (host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "it holds a space or a control character.";
        }

        if (host.Contains('[', StringComparison.Ordinal) || host.Contains(']', StringComparison.Ordinal))
        {
            return "brackets belong to the \"[::1]:11211\" form, which MemcachedServer.Parse takes; pass the address alone (::1) and the port apart.";
        }

        // A colon is only ever part of an IPv6 address: "10.0.0.1:11300" or "cache-1:11300" here lost the port (the
        // address parser ignores it, or it went to DNS) and the cache dialled port 11211 or nothing.
        if (host.Contains(':', StringComparison.Ordinal)
            && !(IPAddress.TryParse(host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6))
        {
            return "it holds a port; pass the port apart, or use MemcachedServer.Parse(\"host:port\").";
        }

        return null;
    }

    private static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));

    /// <summary>Returns <c>host:port</c>, the name the ketama ring hashes.</summary>
    /// <returns>The server's address.</returns>
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal)
        ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}"
        : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
