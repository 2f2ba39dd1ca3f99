namespace TaiCache.Tiering;

/// <summary>Write-behind: the public face of the queue (flush, dead letters, depth and age).</summary>
public sealed partial class MultiTierCache
{
    /// <summary>Gets how many keys have a write queued for the lower tiers or being written, each key once (0 under write-through). Also the <c>taicache.write_behind.queue.depth</c> gauge.</summary>
    public int WriteBehindQueueDepth => _writeBehind?.Depth ?? 0;

    /// <summary>Gets the age of the oldest write not yet in every lower tier. Also the <c>taicache.write_behind.queue.age</c> gauge (seconds).</summary>
    public TimeSpan WriteBehindOldestAge => _writeBehind?.OldestAge ?? TimeSpan.Zero;

    /// <summary>Gets how many writes went to the dead-letter sink since the cache was built.</summary>
    public long WriteBehindDeadLetterCount => _writeBehind?.DeadLetterCount ?? 0;

    /// <summary>Gets what the drain of <see cref="DisposeAsync"/> achieved, once the cache is disposed (<see langword="null"/> before, or under write-through).</summary>
    public WriteBehindFlushResult? LastDrainResult => _writeBehind?.LastDrainResult;

    /// <summary>
    /// Waits until every write queued before the call is in every lower tier (or in the dead-letter sink), for up to
    /// <see cref="WriteBehindOptions.DrainTimeout"/>. Wakes a flusher waiting out a retry delay.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not the writes).</param>
    /// <returns>What was written, and the keys still queued at the deadline.</returns>
    public Task<WriteBehindFlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        FlushAsync(_options.WriteBehind.DrainTimeout, cancellationToken);

    /// <summary>Waits until every write queued before the call is in every lower tier (or dead-lettered), for up to <paramref name="timeout"/>.</summary>
    /// <param name="timeout">The deadline.</param>
    /// <param name="cancellationToken">Cancels the wait (not the writes).</param>
    /// <returns>What was written, and the keys still queued at the deadline.</returns>
    public Task<WriteBehindFlushResult> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        ThrowIfDisposed();
        if (_writeBehind is null)
        {
            return Task.FromResult(new WriteBehindFlushResult(true, 0, 0, [], 0));
        }

        return _writeBehind.FlushAsync(timeout, cancellationToken);
    }

    /// <summary>Takes the dead letters kept so far (writes the flusher gave up on), oldest first, leaving the sink empty.</summary>
    /// <returns>The dead letters.</returns>
    public IReadOnlyList<WriteBehindDeadLetter> DrainDeadLetters() => _writeBehind?.DrainDeadLetters() ?? [];

    internal MultiTierEntryOptions DefaultsForQueue => _defaults;

    internal bool HasInMemoryKey(string key)
    {
        for (var i = 0; i < _firstRemote; i++)
        {
            if (_slots[i].Memory!.GetRemainingTtl(key) is not null)
            {
                return true;
            }
        }

        return false;
    }

    internal bool RemoveFromMemoryTiers(string key)
    {
        var removed = false;
        for (var i = 0; i < _firstRemote; i++)
        {
            removed |= _slots[i].Memory!.Remove(key);
        }

        return removed;
    }
}
