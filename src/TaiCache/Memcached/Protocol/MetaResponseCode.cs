namespace TaiCache.Memcached.Protocol;

/// <summary>The status a memcached meta response starts with.</summary>
internal enum MetaResponseCode : byte
{
    /// <summary>Not a response (default).</summary>
    None = 0,

    /// <summary><c>VA</c>: a value follows.</summary>
    Value,

    /// <summary><c>HD</c>: success, no value.</summary>
    Stored,

    /// <summary><c>EN</c>: miss (mg).</summary>
    Miss,

    /// <summary><c>NF</c>: not found (md, ma, ms with C).</summary>
    NotFound,

    /// <summary><c>NS</c>: not stored (ms with add or replace mode).</summary>
    NotStored,

    /// <summary><c>EX</c>: the CAS token did not match.</summary>
    Exists,

    /// <summary><c>MN</c>: the answer to <c>mn</c>, closing a pipelined batch.</summary>
    NoOp,

    /// <summary><c>OK</c>: the answer to <c>flush_all</c>.</summary>
    Ok,

    /// <summary><c>ERROR</c>: the server did not know the command.</summary>
    Error,

    /// <summary><c>CLIENT_ERROR message</c>: the server refused the request.</summary>
    ClientError,

    /// <summary><c>SERVER_ERROR message</c>: the server failed the request.</summary>
    ServerError,
}
