namespace TaiCache.Tiering.WriteBehind;

/// <summary>Batch writes: a batch of sets or removals goes into the queue whole, or not at all.</summary>
internal sealed partial class WriteBehindQueue
{
    /// <summary>Queues a batch of sets as one (see <see cref="EnqueueManyAsync"/>).</summary>
    public ValueTask<long> EnqueueSetManyAsync<T>(List<KeyValuePair<string, T>> items, MultiTierEntryOptions options, Func<List<PendingWrite>, CancellationToken, ValueTask> writeThrough, CancellationToken cancellationToken)
    {
        var templates = new List<PendingWrite>(items.Count);
        foreach (var item in items)
        {
            templates.Add(new PendingSet<T>(item.Key, item.Value, options, 0, 0, _allTiers));
        }

        return EnqueueManyAsync(templates, writeThrough, cancellationToken);
    }

    /// <summary>Queues a batch of removals as one (see <see cref="EnqueueManyAsync"/>).</summary>
    /// <returns>How many of the keys a memory tier held.</returns>
    public ValueTask<long> EnqueueDeleteManyAsync(List<string> keys, Func<List<PendingWrite>, CancellationToken, ValueTask> writeThrough, CancellationToken cancellationToken)
    {
        var templates = new List<PendingWrite>(keys.Count);
        foreach (var key in keys)
        {
            templates.Add(new PendingDelete(key, _owner.DefaultsForQueue, 0, 0, _allTiers));
        }

        return EnqueueManyAsync(templates, writeThrough, cancellationToken);
    }

    /// <summary>
    /// Queues a batch as one. The room it needs is one slot per distinct key not queued yet (a key already queued
    /// coalesces into its entry and needs none); it is counted and taken under the gate, so concurrent writers never
    /// take the queue past its capacity, and nothing of the batch reaches L1 or the journal (one transaction for the
    /// batch) before it is all in. When the room is not there:
    /// <see cref="WriteBehindFullPolicy.Reject"/> refuses the whole batch, saying how much room it needed and how much
    /// was free; <see cref="WriteBehindFullPolicy.Block"/> waits until the whole batch fits (a batch needing more
    /// than the capacity waits for the queue to be empty, then goes in whole: it could not go in otherwise);
    /// <see cref="WriteBehindFullPolicy.FallBackToWriteThrough"/> carries the keys that need room through every tier
    /// with <paramref name="writeThrough"/> (one batch call per tier) and, once that succeeded, queues the others into
    /// their entries. A failed write-through throws and queues nothing of the batch.
    /// </summary>
    /// <returns>How many of the batch's removals found their key in a memory tier (0 for sets).</returns>
    private async ValueTask<long> EnqueueManyAsync(List<PendingWrite> templates, Func<List<PendingWrite>, CancellationToken, ValueTask> writeThrough, CancellationToken cancellationToken)
    {
        if (templates.Count == 0)
        {
            return 0;
        }

        var keys = new HashSet<string>(templates.Count, StringComparer.Ordinal);
        foreach (var template in templates)
        {
            keys.Add(template.Key);
        }

        LinkedListNode<object>? ticket = null;
        try
        {
            while (true)
            {
                Task wait;
                List<PendingWrite>? direct = null;
                List<PendingWrite>? coalesced = null;
                byte[]?[]? payloads = null;
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_closed, _owner);
                    if (AnyDirect(keys))
                    {
                        // Another caller is writing one of the keys through: after it, as for a single write.
                        wait = _progress.Task;
                    }
                    else
                    {
                        var (needed, firstNew) = RoomNeeded(keys);
                        var free = Math.Max(0, _options.Capacity - _pending.Count);
                        if ((needed <= free || (_options.FullPolicy == WriteBehindFullPolicy.Block && needed > _options.Capacity && _pending.Count == 0)) && (needed == 0 || MayTakeRoom(ticket)))
                        {
                            return Commit(templates, payloads: null);
                        }

                        if (_options.FullPolicy == WriteBehindFullPolicy.Reject)
                        {
                            throw new WriteBehindQueueFullException(
                                $"The write-behind queue of cache '{_owner.Name}' holds {_pending.Count} keys (capacity {_options.Capacity}): the batch of {templates.Count} writes (first new key {TaiCacheDiagnostics.DescribeKey(firstNew)}) needed room for {needed} keys not queued yet and {free} {(free == 1 ? "was" : "were")} free, so none of it was applied." +
                                (needed > _options.Capacity ? " The batch needs more room than the whole queue has: split it into batches of at most Capacity new keys." : string.Empty),
                                firstNew,
                                _options.Capacity);
                        }

                        if (_options.FullPolicy == WriteBehindFullPolicy.FallBackToWriteThrough && !AnyNewInFlight(keys))
                        {
                            (direct, coalesced) = Split(templates);
                            payloads = _journal is null ? null : WriteBehindJournal.EncodeAll(coalesced);
                            foreach (var key in keys)
                            {
                                _direct.Add(key); // no other write of the batch's keys goes in until this one is done
                                SupersedeExpiry(key);
                            }

                            wait = Task.CompletedTask;
                        }
                        else
                        {
                            // Block (in turn: see MayTakeRoom); or a key needing room is still being written by the
                            // flusher, and a write carried through now could land before that older one: after it, as
                            // for a single write.
                            if (_options.FullPolicy == WriteBehindFullPolicy.Block)
                            {
                                ticket ??= _roomWaiters.AddLast(RoomWaiter);
                            }

                            wait = _progress.Task;
                        }
                    }
                }

                if (direct is not null)
                {
                    return await WriteManyDirectAsync(keys, direct, coalesced!, payloads, writeThrough, cancellationToken).ConfigureAwait(false);
                }

                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            LeaveRoomQueue(ticket);
        }
    }

    /// <summary>
    /// Carries the batch's keys that needed room through every tier, then queues the rest (keys queued when the call
    /// began; should the flusher have taken one meanwhile, it goes in even past the capacity, as a failed batch goes
    /// back: at most one batch of the flusher's). Every key of the batch is in <c>_direct</c> until done.
    /// </summary>
    private async ValueTask<long> WriteManyDirectAsync(HashSet<string> keys, List<PendingWrite> direct, List<PendingWrite> coalesced, byte[]?[]? payloads, Func<List<PendingWrite>, CancellationToken, ValueTask> writeThrough, CancellationToken cancellationToken)
    {
        try
        {
            long removed = 0;
            var counted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var template in direct)
            {
                if (template.Operation == WriteBehindOperation.Delete && counted.Add(template.Key) && _owner.HasInMemoryKey(template.Key))
                {
                    removed++;
                }
            }

            if (direct.Count > 0)
            {
                await writeThrough(direct, cancellationToken).ConfigureAwait(false);
            }

            lock (_gate)
            {
                // Stopped meanwhile: the drain may be over, and what went in now would never be written.
                ObjectDisposedException.ThrowIf(_closed && coalesced.Count > 0, _owner);
                return removed + Commit(coalesced, payloads); // the values encode (checked above); only a journal I/O error can fail here
            }
        }
        finally
        {
            lock (_gate)
            {
                foreach (var key in keys)
                {
                    _direct.Remove(key);
                }

                SignalProgress();
            }
        }
    }

    /// <summary>
    /// Stamps, journals (one transaction) and queues the writes in their order, then applies them to the memory tiers;
    /// the caller checked the room. Called under the gate.
    /// </summary>
    private long Commit(List<PendingWrite> templates, byte[]?[]? payloads)
    {
        if (templates.Count == 0)
        {
            return 0;
        }

        var entries = new List<PendingWrite>(templates.Count);
        foreach (var template in templates)
        {
            entries.Add(Stamp(template));
        }

        _journal?.UpsertMany(entries, payloads); // throws before anything is queued

        long removed = 0;
        foreach (var entry in entries)
        {
            SupersedeExpiry(entry.Key);
            if (_pending.TryGetValue(entry.Key, out var older))
            {
                ReplacePending(older, entry, JournalWrite.None);
            }
            else
            {
                Append(entry);
            }

            if (entry.ApplyToMemory(_owner) && entry.Operation == WriteBehindOperation.Delete)
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>How many of the keys are not queued yet (each needs a slot), and the first of them. Called under the gate.</summary>
    private (int Needed, string? FirstNew) RoomNeeded(HashSet<string> keys)
    {
        var needed = 0;
        string? firstNew = null;
        foreach (var key in keys)
        {
            if (!_pending.ContainsKey(key))
            {
                needed++;
                firstNew ??= key;
            }
        }

        return (needed, firstNew);
    }

    private bool AnyDirect(HashSet<string> keys)
    {
        if (_direct.Count == 0)
        {
            return false;
        }

        foreach (var key in _direct)
        {
            if (keys.Contains(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a key of the batch that is not queued is being written by the flusher. Called under the gate.</summary>
    private bool AnyNewInFlight(HashSet<string> keys)
    {
        foreach (var key in keys)
        {
            if (!_pending.ContainsKey(key) && _inFlight.ContainsKey(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The batch's writes of keys not queued (to carry through) and of keys queued (to coalesce). Called under the gate.</summary>
    private (List<PendingWrite> Direct, List<PendingWrite> Coalesced) Split(List<PendingWrite> templates)
    {
        var direct = new List<PendingWrite>();
        var coalesced = new List<PendingWrite>();
        foreach (var template in templates)
        {
            (_pending.ContainsKey(template.Key) ? coalesced : direct).Add(template);
        }

        return (direct, coalesced);
    }
}
