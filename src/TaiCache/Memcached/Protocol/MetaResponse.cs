namespace TaiCache.Memcached.Protocol;

/// <summary>One parsed meta-protocol response: the status, the flags TaiCache asks for, and the value bytes for <c>VA</c>.</summary>
internal readonly struct MetaResponse
{
    /// <summary>Gets the status.</summary>
    public MetaResponseCode Code { get; init; }

    /// <summary>Gets the value bytes of a <c>VA</c> response (copied out of the socket buffer), else <see langword="null"/>.</summary>
    public byte[]? Data { get; init; }

    /// <summary>Gets the client flags (<c>f</c>), 0 when not returned.</summary>
    public uint ClientFlags { get; init; }

    /// <summary>Gets the CAS token (<c>c</c>), 0 when not returned.</summary>
    public ulong Cas { get; init; }

    /// <summary>Gets the opaque number (<c>O</c>), -1 when not returned.</summary>
    public int Opaque { get; init; }

    /// <summary>Gets the remaining TTL in seconds (<c>t</c>): -1 for none, <see langword="null"/> when not returned.</summary>
    public int? RemainingTtl { get; init; }

    /// <summary>
    /// Gets a value indicating whether the server marked the item stale (<c>X</c>): another meta-protocol client
    /// invalidated it (<c>md key I</c>), and memcached keeps serving it only so that one client can fetch a fresh value.
    /// </summary>
    public bool IsStale { get; init; }

    /// <summary>
    /// Gets a value indicating whether the server gave this read the right to refill the item (<c>W</c>). memcached gives
    /// it to the first <c>mg</c> of an item invalidated with <c>md key I</c>, whatever its flags; other readers then get
    /// <c>Z</c> (another client refills) until the item is replaced or invalidated again.
    /// </summary>
    public bool WonRecache { get; init; }

    /// <summary>
    /// Gets the size of a <c>VA</c> value larger than the client's <see cref="MemcachedCacheOptions.MaxItemBytes"/>
    /// (written by a client with a larger limit), whose bytes were discarded unread (<see cref="Data"/> is
    /// <see langword="null"/>); 0 for every other response.
    /// </summary>
    public int OversizeBytes { get; init; }

    /// <summary>Gets a value indicating whether this is a value too large to read (see <see cref="OversizeBytes"/>).</summary>
    public bool IsOversize => OversizeBytes > 0;

    /// <summary>Gets the text after <c>CLIENT_ERROR</c> or <c>SERVER_ERROR</c>.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>Gets a value indicating whether the server answered with one of its error lines.</summary>
    public bool IsError => Code is MetaResponseCode.Error or MetaResponseCode.ClientError or MetaResponseCode.ServerError;
}
