namespace TaiCache;

/// <summary>Which queue of the eviction policy holds a node.</summary>
internal enum NodeQueue : byte
{
    /// <summary>Not in any queue (removed).</summary>
    None = 0,

    /// <summary>The admission window: new entries, recency ordered.</summary>
    Window = 1,

    /// <summary>The main space's probation segment: admitted, not yet re-read.</summary>
    Probation = 2,

    /// <summary>The main space's protected segment: re-read while in main.</summary>
    Protected = 3,
}
