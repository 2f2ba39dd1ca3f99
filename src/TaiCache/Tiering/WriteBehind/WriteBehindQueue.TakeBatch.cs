namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// How the flusher takes a batch: the versions it writes are journaled first, and the journal's commit of them runs
/// outside the queue's lock, so writers are not held up behind the flusher's SQLite I/O.
/// </summary>
internal sealed partial class WriteBehindQueue
{
    /// <summary>
    /// Takes the next batch into flight: up to <see cref="WriteBehindOptions.BatchSize"/> keys, oldest first, each at
    /// its latest version, every one of them journaled (the flusher writes no version to a tier before its row is in
    /// the journal, and none whose journal commit failed). When a version's row is only staged for a group commit, the
    /// keys are picked under the lock, the staged rows are written with the lock released, and the keys are taken under
    /// the lock again at the version they then hold: one written since with a newer version staged meanwhile (rare: it
    /// was written during that one commit) is settled by a commit under the lock, as every batch was before.
    /// </summary>
    private List<PendingWrite> TakeBatch()
    {
        var batch = new List<PendingWrite>(Math.Min(_options.BatchSize, 1024));
        var picked = new List<string>(Math.Min(_options.BatchSize, 1024));
        var staged = false;
        lock (_gate)
        {
            while (picked.Count < _options.BatchSize && _order.TryDequeue(out var key))
            {
                if (_pending.TryGetValue(key, out var entry))
                {
                    picked.Add(key); // stays queued (a newer write coalesces into it) until taken below
                    staged |= entry.Commit is { IsCompleted: false };
                }
            }

            if (!staged)
            {
                TakeLocked(picked, batch);
                return batch;
            }
        }

        _journal!.CommitStaged(); // every row staged so far is written (or refused) when this returns
        lock (_gate)
        {
            TakeLocked(picked, batch);
        }

        return batch;
    }

    /// <summary>
    /// Moves the picked keys' queued versions into flight (called under the gate). A version whose journal commit failed
    /// is taken back (its writer was refused: the version it replaced, if any, is queued again); one still staged (a
    /// write that came in while the lock was released) is written first, here, under the lock, where nothing can be
    /// staged meanwhile.
    /// </summary>
    private void TakeLocked(List<string> picked, List<PendingWrite> batch)
    {
        var settled = false;
        foreach (var key in picked)
        {
            if (!_pending.TryGetValue(key, out var entry))
            {
                continue; // taken back by its refused writer, or picked twice (an order entry left by a take-back)
            }

            if (entry.Commit is { IsCompleted: false } && !settled)
            {
                _journal!.CommitStaged();
                settled = true;
            }

            if (entry.IsUnjournaled)
            {
                Undo(entry);
                continue;
            }

            _pending.Remove(key);
            _inFlight[key] = entry;
            batch.Add(entry);
        }

        SignalProgress();
    }
}
