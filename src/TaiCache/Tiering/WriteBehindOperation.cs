namespace TaiCache.Tiering;

/// <summary>The kind of a queued write-behind operation.</summary>
public enum WriteBehindOperation
{
    /// <summary>A value to store.</summary>
    Set = 0,

    /// <summary>A key to remove.</summary>
    Delete = 1,

    /// <summary>A new expiry for a stored key, queued when a lower tier failed <c>ExpireAsync</c> (retried like a write).</summary>
    Expire = 2,
}
