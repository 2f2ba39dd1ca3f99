using System.Diagnostics;
using TaiCache.Metrics;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>The background flusher: batches, retries with jittered back-off, dead letters, flush and drain.</summary>
internal sealed partial class WriteBehindQueue
{
    private async Task FlushLoopAsync()
    {
        // The flusher outlives whatever request built the cache: its tier activities are roots, not children of that request.
        Activity.Current = null;
        var consecutiveFailures = 0;
        while (true)
        {
            Task work;
            lock (_gate)
            {
                if (_pending.Count == 0 && Volatile.Read(ref _journalBacklog) is null)
                {
                    if (_stop.IsCancellationRequested)
                    {
                        return;
                    }

                    if (_work.Task.IsCompleted)
                    {
                        _work = NewSignal();
                    }

                    work = _work.Task;
                }
                else
                {
                    work = Task.CompletedTask;
                }
            }

            if (!work.IsCompleted)
            {
                try
                {
                    await work.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    continue;
                }
            }

            if (_stop.IsCancellationRequested)
            {
                return;
            }

            bool failed;
            try
            {
                failed = await FlushBatchAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The flusher must survive anything a tier throws.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.FlusherFailed(_owner.Logger, _owner.Name, e);
                failed = true;
            }

            if (!failed)
            {
                consecutiveFailures = 0;
                continue;
            }

            consecutiveFailures++;
            var delay = BackoffDelay(consecutiveFailures);
            CancellationToken wake;
            lock (_gate)
            {
                wake = _wake.Token;
            }

            try
            {
                await Task.Delay(delay, _time, wake).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Woken early by a flush or by dispose.
            }
        }
    }

    /// <summary>
    /// Forgets in the journal the versions written (or dead-lettered) that it still holds (<see cref="_journalBacklog"/>,
    /// filled under the lock as entries leave the queue, so a flush waits for this too); false when the journal refuses
    /// (a busy or failing file), keeping them for the next round: left there, a restart would replay them over whatever
    /// newer value the tiers hold by then.
    /// </summary>
    private bool CompleteInJournal()
    {
        if (_journal is null || Volatile.Read(ref _journalBacklog) is not { } rows)
        {
            return true;
        }

        try
        {
            _journal.Complete(rows);
            Volatile.Write(ref _journalBacklog, null);
            lock (_gate)
            {
                SignalProgress(); // a flush waiting for the journal goes on
            }

            return true;
        }
        catch (CacheException e)
        {
            Log.JournalCompleteFailed(_owner.Logger, _owner.Name, rows.Count, e);
            return false;
        }
    }

    private TimeSpan BackoffDelay(int failures)
    {
        var exponent = Math.Min(failures - 1, 20);
        var baseTicks = Math.Min(_options.RetryBaseDelay.Ticks * (1L << exponent), _options.RetryMaxDelay.Ticks);
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
        var jitter = 0.5 + Random.Shared.NextDouble();
#pragma warning restore CA5394
        return TimeSpan.FromTicks(Math.Min((long)(baseTicks * jitter), _options.RetryMaxDelay.Ticks));
    }

    /// <summary>Writes one batch to every lower tier; returns whether anything failed or was skipped.</summary>
    private async Task<bool> FlushBatchAsync()
    {
        var batch = TakeBatch();

        if (batch.Count == 0)
        {
            return !CompleteInJournal(); // rows written before but not forgotten yet, if any
        }

        var trouble = false;
        var token = _stop.Token;
        var tiersBefore = new int[batch.Count];
        for (var k = 0; k < batch.Count; k++)
        {
            batch[k].FailedThisRound = false;
            tiersBefore[k] = batch[k].RemainingTiers;
        }

        for (var i = _owner.FirstRemote; i < _owner.Slots.Length; i++)
        {
            var slot = _owner.Slots[i];
            var groups = new Dictionary<(WriteBehindOperation, Type?, TimeSpan?, long, string?, bool), List<PendingWrite>>();
            var now = _time.GetUtcNow();
            foreach (var entry in batch)
            {
                if ((entry.RemainingTiers & slot.Bit) != 0 && !entry.Yielded)
                {
                    var groupKey = GroupOf(entry, now);
                    if (!groups.TryGetValue(groupKey, out var group))
                    {
                        groups[groupKey] = group = [];
                    }

                    group.Add(entry);
                }
            }

            if (groups.Count == 0)
            {
                continue;
            }

            if (!MultiTierCache.TryEnter(slot))
            {
                trouble = true;
                continue;
            }

            foreach (var ((operation, _, _, _, _, _), group) in groups)
            {
                var error = await WriteGroupAsync(slot, operation, group, token).ConfigureAwait(false);
                if (error is null)
                {
                    continue;
                }

                trouble = true;
                if (group.Count > 1 && PartialOutage.Is(error))
                {
                    // Some of the tier's nodes failed (a memcached node or a Cluster primary down), the batch with them:
                    // write its keys one at a time, so those the healthy nodes take count as written instead of
                    // spending their attempts (and reaching the dead-letter sink) with the down node's.
                    foreach (var entry in group)
                    {
                        var single = await WriteGroupAsync(slot, operation, [entry], token).ConfigureAwait(false);
                        if (single is not null && MultiTierCache.IsTierFault(single) && !PartialOutage.Is(single))
                        {
                            break;
                        }
                    }

                    continue;
                }

                if (MultiTierCache.IsTierFault(error))
                {
                    // The tier is in trouble: leave its other groups for the next round.
                    break;
                }

                if (group.Count > 1 && IsValueFault(error))
                {
                    // One value the tier cannot take (too large, not serializable) must not hold back its batch mates:
                    // write them one at a time, so only the bad ones fail.
                    foreach (var entry in group)
                    {
                        var single = await WriteGroupAsync(slot, operation, [entry], token).ConfigureAwait(false);
                        if (single is not null && MultiTierCache.IsTierFault(single))
                        {
                            break;
                        }
                    }
                }
            }
        }

        var done = new List<(string, long)>();
        List<PendingWrite>? yielded = null;
        lock (_gate)
        {
            foreach (var entry in batch)
            {
                if (entry.RemainingTiers == 0)
                {
                    _written++;
                    done.Add((entry.Key, entry.Sequence));
                    if (entry.Yielded && !(_pending.TryGetValue(entry.Key, out var next) && next is not PendingExpiry))
                    {
                        // L1 took the factory's value when it was loaded; the tier holds a newer one. (A write of the
                        // key queued since is newer still, and reads answer from the queue until it lands; a new expiry
                        // queued since is no value, and leaves L1 holding the factory's.) The entry
                        // stays in flight until L1 has dropped it, so a flush that sees the queue empty sees L1 without it.
                        (yielded ??= []).Add(entry);
                        continue;
                    }

                    _inFlight.Remove(entry.Key);
                    continue;
                }

                _inFlight.Remove(entry.Key);

                if (entry.FailedThisRound)
                {
                    entry.Attempts++;
                    if (entry.Attempts >= _options.MaxAttempts || entry.FailedPermanently)
                    {
                        if (NewerQueued(entry) is { } newer)
                        {
                            newer.FirstSequence = Math.Min(newer.FirstSequence, entry.FirstSequence);
                        }
                        else
                        {
                            AddDeadLetter(entry, entry.LastError ?? "failed");
                        }

                        done.Add((entry.Key, entry.Sequence));
                        continue;
                    }
                }

                Requeue(entry);
            }

            if (_journal is not null && done.Count > 0)
            {
                // Still to be forgotten by the journal: a flush does not end before that (see CompleteInJournal).
                Volatile.Write(ref _journalBacklog, Volatile.Read(ref _journalBacklog) is { } backlog ? [.. backlog, .. done] : done);
            }

            SignalProgress();
        }

        trouble |= !CompleteInJournal();
        if (yielded is not null)
        {
            // Outside the lock: L1's eviction event runs the user's handlers.
            foreach (var entry in yielded)
            {
                _owner.RemoveFromMemoryTiersAbove(_owner.FirstRemote, entry.Key);
            }

            lock (_gate)
            {
                foreach (var entry in yielded)
                {
                    if (_inFlight.TryGetValue(entry.Key, out var current) && ReferenceEquals(current, entry))
                    {
                        _inFlight.Remove(entry.Key);
                    }
                }

                SignalProgress();
            }
        }

        // Done, or written to a shared tier this round though a tier below still fails (retried, perhaps dead-lettered):
        // the peers read the new value there, so their L1 copies of the older one must go now.
        var sharedTiers = 0;
        foreach (var slot in _owner.Slots)
        {
            sharedTiers |= slot.IsShared ? slot.Bit : 0;
        }

        var published = new List<string>(done.Count);
        for (var k = 0; k < batch.Count; k++)
        {
            var entry = batch[k];
            if (!entry.Yielded && (entry.RemainingTiers == 0 || (tiersBefore[k] & ~entry.RemainingTiers & sharedTiers) != 0))
            {
                published.Add(entry.Key);
            }
        }

        await _owner.PublishInvalidationAsync(published, CancellationToken.None).ConfigureAwait(false);
        return trouble;
    }

    /// <summary>
    /// Which tier call an entry shares with its batch mates: one per operation, value type and TTL, where the TTL is
    /// what is left of each entry's (its deadlines fall in one slice of a hundredth of the TTL, so sharing the earliest
    /// shortens none by more than that). A set whose deadline passed while it was queued is a removal now: the value is
    /// not written, and the tier loses the older value it holds (the key's latest write ended with the TTL). An expiry
    /// is one call per key, each under its own TierTimeout (a group would share one).
    /// </summary>
    private static (WriteBehindOperation, Type?, TimeSpan?, long, string?, bool) GroupOf(PendingWrite entry, DateTimeOffset now)
    {
        if (entry.Operation == WriteBehindOperation.Expire)
        {
            return (entry.Operation, null, null, 0, entry.Key, false);
        }

        if (entry.Operation == WriteBehindOperation.Set && entry.HasExpired(now))
        {
            return (WriteBehindOperation.Delete, null, null, 0, null, false);
        }

        // Factory values apart from writes: they go where their keys hold nothing, writes go everywhere.
        var slice = entry is { Ttl: { } ttl, ExpiresAt: { } at } ? at.UtcTicks / Math.Max(ttl.Ticks / 100, TimeSpan.TicksPerMillisecond) : 0;
        return (entry.Operation, entry.ValueType, entry.Ttl, slice, null, entry.IsFill);
    }

    /// <summary>What is left of the earliest TTL in a group of sets at <paramref name="now"/>, at least a millisecond (null: no TTL).</summary>
    private static TimeSpan? TtlLeft(List<PendingWrite> group, DateTimeOffset now)
    {
        DateTimeOffset? earliest = null;
        foreach (var entry in group)
        {
            if (entry.ExpiresAt is { } at && (earliest is null || at < earliest))
            {
                earliest = at;
            }
        }

        return earliest is { } deadline ? TimeSpan.FromTicks(Math.Max((deadline - now).Ticks, TimeSpan.TicksPerMillisecond)) : null;
    }

    /// <summary>
    /// Writes one group of entries (see <see cref="GroupOf"/>) to one tier. Marks the entries written, or failed with
    /// the error (permanently when retrying cannot help: the value itself is refused); returns the error, or
    /// <see langword="null"/>.
    /// </summary>
    private async Task<Exception?> WriteGroupAsync(TierSlot slot, WriteBehindOperation operation, List<PendingWrite> group, CancellationToken token)
    {
        using var activity = operation switch
        {
            WriteBehindOperation.Delete => _owner.StartTierActivity(slot, TaiCacheTelemetry.InvalidateActivity, "write_behind_delete", group.Count),
            WriteBehindOperation.Expire => _owner.StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "write_behind_expire", group.Count),
            _ => _owner.StartTierActivity(slot, TaiCacheTelemetry.SetActivity, "write_behind_set", group.Count),
        };
        try
        {
            // A set whose deadline passed since it was grouped is a removal too (written with the floor of 1 ms, its value
            // would outlive its TTL).
            var now = _time.GetUtcNow();
            var lapsed = operation == WriteBehindOperation.Set && group.Exists(e => e.HasExpired(now)) ? group.FindAll(e => e.HasExpired(now)) : null;
            var sets = lapsed is null ? group : group.FindAll(e => !e.HasExpired(now));
            var ttl = operation == WriteBehindOperation.Set && sets.Count > 0 ? TtlLeft(sets, now) : null;
            await _owner.InvokeEnteredAsync(slot, (sets, lapsed, operation, ttl), static async (ops, a, ct) =>
            {
                if (a.operation == WriteBehindOperation.Delete)
                {
                    await PendingDelete.DeleteAllAsync(ops, a.sets, ct).ConfigureAwait(false); // removals, and sets that expired while queued
                    return true;
                }

                if (a.lapsed is not null)
                {
                    await PendingDelete.DeleteAllAsync(ops, a.lapsed, ct).ConfigureAwait(false);
                }

                if (a.sets.Count > 0)
                {
                    await a.sets[0].WriteGroupAsync(ops, a.sets, a.ttl, ct).ConfigureAwait(false);
                }

                return true;
            }, activity, token).ConfigureAwait(false);
            foreach (var entry in group)
            {
                // A fill that yielded to a value this tier holds goes to no other tier either.
                entry.RemainingTiers = entry.Yielded ? 0 : entry.RemainingTiers & ~slot.Bit;
            }

            return null;
        }
#pragma warning disable CA1031 // Every failure is retried, then dead-lettered.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.WriteBehindBatchFailed(_owner.Logger, _owner.Name, slot.Name, group.Count, e);
            foreach (var entry in group)
            {
                entry.FailedThisRound = true;
                entry.FailedPermanently |= group.Count == 1 && IsValueFault(e);
                entry.LastError = $"{slot.Name}: {e.Message}";
            }

            return e;
        }
    }

    /// <summary>Tells whether a tier refused the value itself, which no retry changes.</summary>
    private static bool IsValueFault(Exception e) => e is CacheSerializationException or CacheValueTooLargeException or CacheWrongTypeException;

    /// <summary>
    /// The newer version queued for an in-flight entry's key, if any (called under the gate). One whose journal commit
    /// failed is taken back first; while one's commit may still fail, the entry is kept behind it, so taking it back
    /// queues the entry again instead of losing an acknowledged write.
    /// </summary>
    private PendingWrite? NewerQueued(PendingWrite entry)
    {
        if (_pending.TryGetValue(entry.Key, out var newer) && newer.IsUnjournaled)
        {
            Undo(newer);
            _pending.TryGetValue(entry.Key, out newer);
        }

        if (newer is { Commit: { IsCompleted: false } })
        {
            var last = newer;
            while (last.Replaced is { } older)
            {
                last = older;
            }

            last.Replaced = entry;
        }

        return newer;
    }

    /// <summary>Puts a failed entry back, unless a newer version of its key was queued meanwhile (latest wins).</summary>
    private void Requeue(PendingWrite entry)
    {
        if (NewerQueued(entry) is { } newer)
        {
            newer.FirstSequence = Math.Min(newer.FirstSequence, entry.FirstSequence);
            newer.EnqueuedAt = Math.Min(newer.EnqueuedAt, entry.EnqueuedAt);
            return;
        }

        Append(entry);
    }

    /// <summary>Waits until every write queued before the call reached every tier (or was dead-lettered), or the deadline.</summary>
    public async Task<WriteBehindFlushResult> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        long target;
        long writtenBefore;
        long deadBefore = Volatile.Read(ref _deadLettered);
        lock (_gate)
        {
            target = _sequence;
            writtenBefore = _written;
            var wake = _wake;
            _wake = new CancellationTokenSource();
            wake.Cancel();
            wake.Dispose();
            _work.TrySetResult();
        }

        var started = _time.GetTimestamp();
        while (true)
        {
            Task progress;
            lock (_gate)
            {
                // Written, and forgotten by the journal too: a row left there would be replayed by the next start.
                if (!HasPendingUpTo(target) && Volatile.Read(ref _journalBacklog) is null)
                {
                    return Result(true, target, writtenBefore, deadBefore);
                }

                progress = _progress.Task;
            }

            var remaining = timeout - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero || _flusher is { IsCompleted: true })
            {
                lock (_gate)
                {
                    return Result(!HasPendingUpTo(target) && Volatile.Read(ref _journalBacklog) is null, target, writtenBefore, deadBefore);
                }
            }

            try
            {
                await progress.WaitAsync(remaining < TimeSpan.FromSeconds(1) ? remaining : TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Check the deadline again.
            }
        }
    }

    private bool HasPendingUpTo(long target)
    {
        foreach (var entry in _pending.Values)
        {
            if (entry.FirstSequence <= target)
            {
                return true;
            }
        }

        foreach (var entry in _inFlight.Values)
        {
            if (entry.FirstSequence <= target)
            {
                return true;
            }
        }

        return false;
    }

    private WriteBehindFlushResult Result(bool completed, long target, long writtenBefore, long deadBefore)
    {
        var keys = new List<string>();
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in _inFlight.Values.Concat(_pending.Values))
        {
            // Each key once, though an older version of it may be in flight while a newer one waits.
            if (entry.FirstSequence <= target && keys.Count < MaxListedKeys && listed.Add(entry.Key))
            {
                keys.Add(entry.Key);
            }
        }

        return new WriteBehindFlushResult(completed, _written - writtenBefore, Volatile.Read(ref _deadLettered) - deadBefore, keys, UnwrittenKeyCount());
    }

    /// <summary>Stops taking writes, drains within the deadline, stops the flusher, and dead-letters what is left (the journal keeps it).</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        var result = await FlushAsync(_options.DrainTimeout, CancellationToken.None).ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _wake.Cancel();
            _work.TrySetResult();
        }

        if (_flusher is not null)
        {
            try
            {
                await _flusher.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Disposal reports, never throws.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.FlusherFailed(_owner.Logger, _owner.Name, e);
            }
        }

        lock (_gate)
        {
            // A key's older version in flight behind a newer queued one is not dead-lettered: the newer one supersedes it,
            // as it would had the older write failed.
            var left = UnwrittenKeyCount();
            if (left > 0)
            {
                Log.WriteBehindDrainIncomplete(_owner.Logger, _owner.Name, left);
                foreach (var entry in NewestUnwritten().ToList())
                {
                    AddDeadLetter(entry, _journal is null
                        ? "Not written before the drain deadline of DisposeAsync."
                        : "Not written before the drain deadline of DisposeAsync; kept in the journal for the next start.", log: false);
                }

                _pending.Clear();
                _inFlight.Clear();
            }

            // What the deadline left is in the dead-letter sink now, not pending: the result says so.
            result = result with { Completed = left == 0, DeadLettered = result.DeadLettered + left, PendingCount = 0 };
            SignalProgress();
        }

        LastDrainResult = result;
        CompleteInJournal();
        _journal?.Dispose();
        _meter.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }

    /// <summary>Stops the flusher at once without draining or touching the journal, as a crash would (tests only).</summary>
    internal async Task AbandonAsync()
    {
        lock (_gate)
        {
            _closed = true;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _wake.Cancel();
        }

        if (_flusher is not null)
        {
            try
            {
                await _flusher.ConfigureAwait(false);
            }
#pragma warning disable CA1031
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        _journal?.Dispose();
        _meter.Dispose();
    }
}
