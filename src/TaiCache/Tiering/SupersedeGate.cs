namespace TaiCache.Tiering;

/// <summary>
/// A key's load as a write of the key sees it: whether a write has superseded it (its value must not be stored over
/// the write), and the store of an eager refresh under way, which a write waits for so that it lands after it.
/// </summary>
/// <remarks>
/// A refresh replaces what the tiers hold, so a write that came while it was storing must not be overwritten by its
/// last tier writes. The two sides publish, then read, each the other's field (a full fence in between): a writer that
/// does not see the store begun was seen by the refresh, which then stores nothing; one that sees it waits for it.
/// Held as a field of a flight (a mutable struct, so no allocation per load).
/// </remarks>
internal struct SupersedeGate
{
    private int _superseded;
    private TaskCompletionSource? _storing;

    /// <summary>Gets whether a write of the key has superseded the load.</summary>
    public readonly bool IsSuperseded => Volatile.Read(in _superseded) != 0;

    /// <summary>Marks the load superseded; returns the refresh store under way, for the writer to wait for, or <see langword="null"/>.</summary>
    public Task? Supersede()
    {
        Interlocked.Exchange(ref _superseded, 1);
        return Volatile.Read(ref _storing)?.Task;
    }

    /// <summary>Begins a refresh's store; <see langword="null"/> when a write has superseded the load (nothing to store).
    /// Complete the returned source when the store has finished, whatever its outcome.</summary>
    public TaskCompletionSource? TryBeginStore()
    {
        var storing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _storing, storing);
        if (IsSuperseded)
        {
            storing.TrySetResult();
            return null;
        }

        return storing;
    }
}
