using TaiCache.Metrics;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Reflection;
using TaiCache.Serialization;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// The bounded, coalescing write-behind queue of a <see cref="MultiTierCache"/> and its single background flusher.
/// One entry per key holds the latest operation (latest wins); a key taken by the flusher is written before any newer
/// version of it, because the flusher writes one batch at a time and a failed older version is dropped when a newer
/// one is queued.
/// </summary>
internal sealed partial class WriteBehindQueue : IAsyncDisposable
{
    private const int MaxListedKeys = 1000;
    private readonly MultiTierCache _owner;
    private readonly WriteBehindOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PendingWrite> _pending = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly Dictionary<string, PendingWrite> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _direct = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExpiryCall> _expiring = new(StringComparer.Ordinal);

    // Writers that Block waits for room, oldest first (see MayTakeRoom): each is its node, holding RoomWaiter.
    private static readonly object RoomWaiter = new();
    private readonly LinkedList<object> _roomWaiters = new();
    private readonly ConcurrentQueue<WriteBehindDeadLetter> _deadLetters = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly WriteBehindJournal? _journal;

    // Versions written (or dead-lettered) that the journal still holds: added under the lock as they leave the queue,
    // removed once the journal forgot them (retried each round while it refuses). Written by the flusher only.
    private List<(string, long)>? _journalBacklog;
    private readonly Meter _meter;
    private readonly int _allTiers;
    private TaskCompletionSource _work = NewSignal();
    private TaskCompletionSource _progress = NewSignal();
    private CancellationTokenSource _wake = new();
    private long _sequence;
    private long _written;
    private long _deadLettered;
    private bool _closed;
    private Task? _flusher;

    public WriteBehindQueue(MultiTierCache owner, WriteBehindOptions options)
    {
        _owner = owner;
        _options = options;
        _time = owner.Time;
        for (var i = owner.FirstRemote; i < owner.Slots.Length; i++)
        {
            _allTiers |= owner.Slots[i].Bit;
        }

        if (options.JournalPath is { } path)
        {
            _journal = new WriteBehindJournal(path);
            try
            {
                Replay();
            }
            catch
            {
                _journal.Dispose(); // its lock file too: a cache built again in this process must be able to open it
                throw;
            }
        }

        _meter = new Meter(TaiCacheTelemetry.MeterName, Metrics.TaiCacheInstruments.Version); // own instance: its gauges end with this queue
        var tags = new KeyValuePair<string, object?>[] { new(TaiCacheTelemetry.CacheNameTag, owner.Name) };
        _meter.CreateObservableGauge(TaiCacheTelemetry.WriteBehindQueueDepthInstrument, () => new Measurement<long>(Depth, tags), "{write}", "Writes queued for the lower tiers, not yet written.");
        _meter.CreateObservableGauge(TaiCacheTelemetry.WriteBehindQueueAgeInstrument, () => new Measurement<double>(OldestAge.TotalSeconds, tags), "s", "Age of the oldest write not yet written to every lower tier.");
    }

    /// <summary>
    /// Gets how many keys have a write queued or being written, each key once: a key whose older version the flusher is
    /// writing while a newer one waits counts as one (the older one is dropped should it fail).
    /// </summary>
    public int Depth
    {
        get
        {
            lock (_gate)
            {
                return UnwrittenKeyCount();
            }
        }
    }

    /// <summary>The keys with a write queued or being written, each once. Called under the gate.</summary>
    private int UnwrittenKeyCount()
    {
        var count = _pending.Count;
        foreach (var key in _inFlight.Keys)
        {
            if (!_pending.ContainsKey(key))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>
    /// The newest unwritten write of each key: the queued ones, and those being written that nothing newer waits behind.
    /// Called under the gate.
    /// </summary>
    private IEnumerable<PendingWrite> NewestUnwritten() =>
        _inFlight.Values.Where(e => !_pending.ContainsKey(e.Key)).Concat(_pending.Values);

    /// <summary>Gets the age of the oldest queued write.</summary>
    public TimeSpan OldestAge
    {
        get
        {
            long oldest = long.MaxValue;
            lock (_gate)
            {
                foreach (var entry in _pending.Values)
                {
                    oldest = Math.Min(oldest, entry.EnqueuedAt);
                }

                foreach (var entry in _inFlight.Values)
                {
                    oldest = Math.Min(oldest, entry.EnqueuedAt);
                }
            }

            return oldest == long.MaxValue ? TimeSpan.Zero : _time.GetElapsedTime(oldest);
        }
    }

    public long DeadLetterCount => Volatile.Read(ref _deadLettered);

    public WriteBehindFlushResult? LastDrainResult { get; private set; }

    public void Start() => _flusher = Task.Run(FlushLoopAsync);

    public ValueTask EnqueueSetAsync<T>(string key, T value, MultiTierEntryOptions options, CancellationToken cancellationToken)
    {
        var entry = new PendingSet<T>(key, value, options, 0, 0, _allTiers);
        var pending = EnqueueAsync(entry, cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            _ = pending.GetAwaiter().GetResult();
            return default;
        }

        return new ValueTask(pending.AsTask());
    }

    public ValueTask<bool> EnqueueDeleteAsync(string key, CancellationToken cancellationToken)
    {
        var entry = new PendingDelete(key, _owner.DefaultsForQueue, 0, 0, _allTiers);
        return EnqueueAsync(entry, cancellationToken);
    }

    /// <summary>
    /// Gets the newest write of the key not yet on every lower tier (queued, or being written), so reads below L1 never
    /// see an older value (or a removed one) than the caller was acknowledged.
    /// </summary>
    public PendingWrite? FindUnwritten(string key)
    {
        lock (_gate)
        {
            return _pending.TryGetValue(key, out var queued) ? queued : _inFlight.GetValueOrDefault(key);
        }
    }

    /// <summary>Tells whether the key's newest acknowledged operation is a delete not yet on every lower tier.</summary>
    public bool IsDeletePending(string key)
    {
        lock (_gate)
        {
            return _pending.TryGetValue(key, out var queued) && queued.Operation == WriteBehindOperation.Delete;
        }
    }

    /// <summary>
    /// Queues a factory's value unless the key has a newer write queued or being written, or the queue is full. A queued
    /// expiry is older (the value carries its own TTL) and the value replaces it. So is a removal made before the load
    /// began (<paramref name="l1Mark"/>; L1 marks every write of the key under this queue's lock): the value replaces a
    /// queued one as a plain set, since the lower tiers may still hold the value removed, which it would otherwise yield
    /// to. Behind a removal being written it is queued to land after it, as a plain set too: its journal row takes the
    /// removal's place, so after a crash before the removal was written the lower tiers may still hold the value removed.
    /// </summary>
    public void TryEnqueueFill<T>(string key, T value, TimeSpan? ttl, long l1Mark)
    {
        lock (_gate)
        {
            // A removal whose commit fails is taken back first: the value it replaced stands, and the factory's value
            // (loaded only because of the removal) must not take its place.
            SettleStaged(key);
            var replacesExpiry = _pending.TryGetValue(key, out var queued) && queued.Operation == WriteBehindOperation.Expire;
            var replacesRemoval = queued is { Operation: WriteBehindOperation.Delete } && _owner.WroteNothingSince(key, l1Mark);
            var followsRemoval = queued is null && _inFlight.TryGetValue(key, out var writing) && writing.Operation == WriteBehindOperation.Delete && _owner.WroteNothingSince(key, l1Mark);
            var replaces = replacesExpiry || replacesRemoval;
            if (_closed || (queued is not null && !replaces) || (_inFlight.ContainsKey(key) && !replacesRemoval && !followsRemoval) || _direct.Contains(key) || (!replaces && _pending.Count >= _options.Capacity))
            {
                return;
            }

            var options = ttl == _owner.DefaultsForQueue.Ttl ? _owner.DefaultsForQueue : _owner.DefaultsForQueue.WithTtl(ttl);
            var entry = new PendingSet<T>(key, value, options, ++_sequence, _time.GetTimestamp(), _allTiers) { IsFill = !replacesRemoval && !followsRemoval };
            entry.SetTtl(ttl, _time.GetUtcNow());
            try
            {
                if (replaces)
                {
                    ReplacePending(queued!, entry);
                }
                else
                {
                    _journal?.Upsert(entry);
                    Append(entry);
                }
            }
            catch (CacheSerializationException)
            {
                return; // the journal could not take the value: nothing queued
            }
            catch (CacheException e)
            {
                // The journal is busy, gone or failing: the caller has its value (L1 holds it, as a copy on a full queue
                // would be held), so the read does not fail for a fill the lower tiers only miss.
                Log.JournalRefusedFill(_owner.Logger, _owner.Name, key, e);
                return;
            }

            SupersedeExpiry(key);
        }
    }

    /// <summary>
    /// Gives the key's queued value, or the value the flusher is writing, a new TTL; <see langword="true"/> when there was one.
    /// </summary>
    public bool UpdateQueuedTtl(string key, TimeSpan ttl)
    {
        lock (_gate)
        {
            // A TTL journaled for a version whose commit then fails would land on the row of the version it replaced,
            // which the queue holds again with its own TTL: that version takes the new TTL instead.
            SettleStaged(key);
            if (_pending.TryGetValue(key, out var entry))
            {
                if (entry is PendingExpiry)
                {
                    // An earlier expiry a lower tier failed: this one replaces it (the caller sets it in every tier too).
                    ReplacePending(entry, NewExpiry(key, ttl, Deadline.After(_time.GetUtcNow(), ttl), entry.RemainingTiers));
                    return false;
                }

                if (entry.Operation != WriteBehindOperation.Set || entry.HasExpired(_time.GetUtcNow()))
                {
                    // A queued delete, or a value whose TTL ended while it waited: neither comes back with the new TTL.
                    return false;
                }

                // Journaled first: a refusal fails the call with the queued value as it was (L1 and the journal keep
                // the old TTL too).
                var now = _time.GetUtcNow();
                _journal?.UpdateTtl(entry, ttl, Deadline.After(now, ttl));
                entry.SetTtl(ttl, now);
                return true;
            }

            // Both re-queues below may take the queue past its capacity (see OverCapacityForOrder).
            if (!_closed && _inFlight.TryGetValue(key, out var writing) && writing.Operation == WriteBehindOperation.Set && !writing.HasExpired(_time.GetUtcNow()))
            {
                // The flusher is writing the value with its old TTL right now, so the tiers' own expire may run before
                // that write lands and be undone by it. A factory's value gets the new expiry after it (it may yield to
                // another instance's value, which a set queued again would overwrite); a write is queued again with the
                // new TTL, to be written after (should the write in flight fail, the value is still on its way).
                if (writing.IsFill)
                {
                    AppendExpiry(key, ttl, _allTiers);
                    return true;
                }

                var again = Stamp(writing);
                again.SetTtl(ttl, _time.GetUtcNow());
                _journal?.Upsert(again);
                Append(again);
                return true;
            }

            if (!_closed && _inFlight.TryGetValue(key, out var retrying) && retrying is PendingExpiry)
            {
                // The flusher is applying the older deadline right now and would land after the caller's: again after it.
                AppendExpiry(key, ttl, retrying.RemainingTiers);
            }
        }

        return false;
    }

    // OverCapacityForOrder: an expiry a lower tier failed, and a value re-queued behind the write in flight so that its
    // new TTL lands last, are queued even when the queue is full. Each belongs to a call that already returned to the
    // caller (or is returning), so refusing it would not push back on anyone: it would only leave a lower tier with the
    // older deadline. The overshoot is bounded by the keys being expired at that moment, one entry each.

    /// <summary>
    /// Registers an <c>ExpireAsync</c> of the key about to call the tiers: a set or delete of the key queued before
    /// <see cref="EndExpiry"/> supersedes it, so a failed tier does not get the older expiry after the newer write.
    /// </summary>
    public void BeginExpiry(string key)
    {
        lock (_gate)
        {
            _expiring[key] = _expiring.TryGetValue(key, out var call) ? call with { Count = call.Count + 1 } : new ExpiryCall(1, Superseded: false);
        }
    }

    /// <summary>
    /// Ends an <c>ExpireAsync</c> of the key. When lower tiers failed it (a bit per tier) and no set or delete of the
    /// key was queued since it began, the expiry is queued for them: the flusher retries it with back-off and
    /// dead-letters it after <see cref="WriteBehindOptions.MaxAttempts"/>, as it does writes. A removal or a caller's
    /// value being written supersedes it (its journal row is kept).
    /// </summary>
    /// <returns><see langword="false"/> when a retry was needed and the queue is closed (the expiry is then not retried).</returns>
    public bool EndExpiry(string key, TimeSpan ttl, DateTimeOffset expiresAt, int failedTiers)
    {
        lock (_gate)
        {
            var call = _expiring[key];
            if (call.Count == 1)
            {
                _expiring.Remove(key);
            }
            else
            {
                _expiring[key] = call with { Count = call.Count - 1 };
            }

            if (failedTiers == 0 || call.Superseded)
            {
                return true;
            }

            if (_pending.TryGetValue(key, out var queued))
            {
                if (queued is PendingExpiry)
                {
                    ReplacePending(queued, NewExpiry(key, ttl, expiresAt, queued.RemainingTiers | failedTiers));
                }

                return true;
            }

            if (_inFlight.TryGetValue(key, out var writing) && writing is not PendingExpiry && !writing.IsFill)
            {
                // The flusher is writing a removal of the key (nothing is left to expire once it lands) or a value that
                // carries the new TTL (UpdateQueuedTtl gave it): either supersedes the expiry. Queued, the expiry's
                // journal row would take the place of that write's (one row per key), so a crash before the write
                // landed would lose it: a deleted value would come back, an older one be served.
                return true;
            }

            if (_closed)
            {
                return false;
            }

            // Queued even when the queue is full (see OverCapacityForOrder).
            var entry = NewExpiry(key, ttl, expiresAt, failedTiers);
            _journal?.Upsert(entry);
            Append(entry);
            return true;
        }
    }

    /// <summary>
    /// Settles the key's queued version while its journal commit is under way (called under the gate): writes the staged
    /// rows, and takes the version back when its commit failed (its writer is refused and makes L1 forget the key), so
    /// the caller decides on the version that stands.
    /// </summary>
    private void SettleStaged(string key)
    {
        if (_journal is null || !_pending.TryGetValue(key, out var queued) || queued.Commit is not { } commit)
        {
            return;
        }

        if (!commit.IsCompleted)
        {
            _journal.CommitStaged();
        }

        if (queued.IsUnjournaled)
        {
            Undo(queued);
        }
    }

    /// <summary>Marks an <c>ExpireAsync</c> of the key that is still calling the tiers as superseded by a newer write. Called under the gate.</summary>
    private void SupersedeExpiry(string key)
    {
        if (_expiring.Count > 0 && _expiring.TryGetValue(key, out var call))
        {
            _expiring[key] = call with { Superseded = true };
        }
    }

    /// <summary>Queues (and journals) a new expiry of the key behind the write of it in flight. Called under the gate.</summary>
    private void AppendExpiry(string key, TimeSpan ttl, int tiers)
    {
        var expiry = NewExpiry(key, ttl, Deadline.After(_time.GetUtcNow(), ttl), tiers);
        _journal?.Upsert(expiry);
        Append(expiry);
    }

    /// <summary>An expiry of the key at <paramref name="expiresAt"/>, for the given tiers. Called under the gate.</summary>
    private PendingExpiry NewExpiry(string key, TimeSpan ttl, DateTimeOffset expiresAt, int tiers) =>
        new(key, expiresAt, ttl, _time, _owner.DefaultsForQueue, ++_sequence, _time.GetTimestamp(), tiers);

    /// <summary>An <c>ExpireAsync</c> calling the tiers: how many of the key, and whether a newer write was queued meanwhile.</summary>
    private readonly record struct ExpiryCall(int Count, bool Superseded);

    /// <summary>Puts a newer version of a queued key in its place, keeping its place and age. Called under the gate.</summary>
    /// <param name="older">The queued version.</param>
    /// <param name="newer">The version replacing it.</param>
    /// <param name="journal">How the newer version reaches the journal: written now (the default), staged for a group
    /// commit the caller waits for, or not at all (journaled already, as a batch is).</param>
    /// <param name="payload">The newer version's value encoded ahead, for <see cref="JournalWrite.Staged"/>.</param>
    private void ReplacePending(PendingWrite older, PendingWrite newer, JournalWrite journal = JournalWrite.Now, byte[]? payload = null)
    {
        newer.FirstSequence = older.FirstSequence;
        newer.EnqueuedAt = older.EnqueuedAt;
        if (journal == JournalWrite.Now)
        {
            _journal?.Upsert(newer);
        }
        else if (journal == JournalWrite.Staged)
        {
            newer.Commit = _journal!.Stage(newer, payload);
        }

        // While either version's row may still fail to commit, the newer one remembers the older (see Undo); a
        // journaled older version needs nothing older than itself.
        var kept = LastJournaled(older);
        if (kept is { Commit: null or { IsCompleted: true } })
        {
            kept.Replaced = null;
        }

        newer.Replaced = newer.Commit is null ? null : kept;
        _pending[newer.Key] = newer;
    }

    /// <summary>How <see cref="ReplacePending"/> journals the newer version.</summary>
    private enum JournalWrite
    {
        Now,
        Staged,
        None,
    }

    public IReadOnlyList<WriteBehindDeadLetter> DrainDeadLetters()
    {
        var list = new List<WriteBehindDeadLetter>();
        while (_deadLetters.TryDequeue(out var letter))
        {
            list.Add(letter);
        }

        return list;
    }

    private async ValueTask<bool> EnqueueAsync(PendingWrite template, CancellationToken cancellationToken)
    {
        LinkedListNode<object>? ticket = null;
        PendingWrite queued;
        bool applied;

        // The journal's row is encoded before the lock (the value is the template's, whatever version it becomes), so
        // writers do not serialize one after another under it. A value the codec refuses fails only a write that would
        // be journaled (as before), not one carried through for a full queue.
        var row = _journal is null ? default : EncodedRow.Of(template);
        try
        {
            while (true)
            {
                Task wait;
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_closed, _owner);
                    var key = template.Key;
                    SupersedeExpiry(key);
                    if (_direct.Contains(key))
                    {
                        wait = _progress.Task;
                    }
                    else if (_pending.TryGetValue(key, out var older))
                    {
                        // Coalesce: the newer operation replaces the queued one and inherits its place and age.
                        queued = Stamp(template);
                        ReplacePending(older, queued, journal: _journal is null ? JournalWrite.None : JournalWrite.Staged, payload: row.Payload());
                        applied = queued.ApplyToMemory(_owner);
                        break;
                    }
                    else if (_pending.Count < _options.Capacity && MayTakeRoom(ticket))
                    {
                        queued = Stamp(template);
                        queued.Commit = _journal?.Stage(queued, row.Payload());
                        Append(queued);
                        applied = queued.ApplyToMemory(_owner);
                        break;
                    }
                    else if (_options.FullPolicy == WriteBehindFullPolicy.Reject)
                    {
                        throw new WriteBehindQueueFullException($"The write-behind queue of cache '{_owner.Name}' holds {_options.Capacity} keys (its capacity); the write of {TaiCacheDiagnostics.DescribeKey(key)} was refused.", key, _options.Capacity);
                    }
                    else if (_options.FullPolicy == WriteBehindFullPolicy.FallBackToWriteThrough && !_inFlight.ContainsKey(key))
                    {
                        _direct.Add(key);
                        wait = Task.CompletedTask;
                    }
                    else
                    {
                        if (_options.FullPolicy == WriteBehindFullPolicy.Block)
                        {
                            ticket ??= _roomWaiters.AddLast(RoomWaiter);
                        }

                        wait = _progress.Task;
                    }
                }

                if (ReferenceEquals(wait, Task.CompletedTask))
                {
                    return await WriteDirectAsync(template, cancellationToken).ConfigureAwait(false);
                }

                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            LeaveRoomQueue(ticket);
        }

        if (queued.Commit is { } commit)
        {
            // Acknowledged once its journal row is written (in a group commit shared with concurrent writers); a
            // refused commit undoes the write before the refusal goes on.
            try
            {
                await _journal!.WaitAsync(commit, queued.Key).ConfigureAwait(false);
            }
            catch (CacheException)
            {
                TakeBack(queued);
                throw;
            }
        }

        return applied;
    }

    /// <summary>Undoes a queued version whose journal commit failed (see <see cref="Undo"/>), its L1 copy too.</summary>
    private void TakeBack(PendingWrite entry)
    {
        lock (_gate)
        {
            Undo(entry);
        }

        if (entry.TakenBack)
        {
            // Outside the lock (L1's eviction event runs the user's handlers). A newer write of the key made since
            // may lose its L1 copy here: a miss, never the refused value.
            _owner.RemoveFromMemoryTiers(entry.Key);
        }
    }

    /// <summary>
    /// Takes back a version whose journal commit failed (called under the gate; a second call does nothing): the queue
    /// holds again the version it replaced, if any, and the entry is marked <see cref="PendingWrite.TakenBack"/>, for
    /// its writer to make the memory tiers forget the key (a read then finds the queued version, or the lower tiers). A
    /// newer version that replaced it meanwhile stays, and no longer leads back to it.
    /// </summary>
    private void Undo(PendingWrite entry)
    {
        if (!_pending.TryGetValue(entry.Key, out var current))
        {
            return; // taken back already (by the flusher, which found it unjournaled)
        }

        if (ReferenceEquals(current, entry))
        {
            if (LastJournaled(entry.Replaced) is { } restored)
            {
                _pending[entry.Key] = restored;
                _order.Enqueue(entry.Key);
                _work.TrySetResult();
            }
            else
            {
                _pending.Remove(entry.Key);
                SignalProgress();
            }

            entry.TakenBack = true;
            return;
        }

        for (var newer = current; newer is not null; newer = newer.Replaced)
        {
            if (ReferenceEquals(newer.Replaced, entry))
            {
                newer.Replaced = entry.Replaced;
                return;
            }
        }
    }

    /// <summary>The newest of a chain of replaced versions whose journal commit did not fail.</summary>
    private static PendingWrite? LastJournaled(PendingWrite? version)
    {
        while (version is { IsUnjournaled: true })
        {
            version = version.Replaced;
        }

        return version;
    }

    /// <summary>
    /// Under <see cref="WriteBehindFullPolicy.Block"/>, whether a writer that needs room may take it now: no writer is
    /// waiting for room, or this one has waited longest. Room freed goes to the oldest waiter, so a batch that needs
    /// much of it is not starved by single writes each taking a slot as it frees (called under the gate).
    /// </summary>
    /// <param name="ticket">The writer's place among the waiters, if it waited.</param>
    private bool MayTakeRoom(LinkedListNode<object>? ticket) => _roomWaiters.First is not { } first || first == ticket;

    /// <summary>Takes a writer out of the waiters for room (when it waited), and lets the others look again.</summary>
    private void LeaveRoomQueue(LinkedListNode<object>? ticket)
    {
        if (ticket is null)
        {
            return;
        }

        lock (_gate)
        {
            _roomWaiters.Remove(ticket);
            SignalProgress();
        }
    }

    private async ValueTask<bool> WriteDirectAsync(PendingWrite template, CancellationToken cancellationToken)
    {
        try
        {
            var removed = template.Operation == WriteBehindOperation.Delete && _owner.HasInMemoryKey(template.Key);
            await template.WriteThroughAsync(_owner, cancellationToken).ConfigureAwait(false);
            return template.Operation == WriteBehindOperation.Set || removed;
        }
        finally
        {
            lock (_gate)
            {
                _direct.Remove(template.Key);
                SignalProgress();
            }
        }
    }

    /// <summary>Queues a key not queued yet, at the back, and wakes the flusher. Called under the gate.</summary>
    private void Append(PendingWrite entry)
    {
        _pending[entry.Key] = entry;
        _order.Enqueue(entry.Key);
        _work.TrySetResult();
    }

    private PendingWrite Stamp(PendingWrite template)
    {
        var sequence = ++_sequence;
        var entry = template.Restamp(sequence, _time.GetTimestamp(), _allTiers);
        if (entry is not PendingExpiry)
        {
            entry.SetTtl(entry.Ttl, _time.GetUtcNow()); // a set's TTL counts from now, when the memory tiers take it
        }

        return entry;
    }

    private void SignalProgress()
    {
        var previous = _progress;
        _progress = NewSignal();
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void AddDeadLetter(PendingWrite entry, string error, bool log = true)
    {
        var failedTiers = new List<string>();
        foreach (var slot in _owner.Slots)
        {
            if ((entry.RemainingTiers & slot.Bit) != 0)
            {
                failedTiers.Add(slot.Name);
            }
        }

        var letter = new WriteBehindDeadLetter(entry.Key, entry.Operation, entry.BoxedValue, entry.Ttl, failedTiers, entry.Attempts, error, _time.GetUtcNow());
        Interlocked.Increment(ref _deadLettered);
        if (_options.DeadLetterCapacity > 0)
        {
            _deadLetters.Enqueue(letter);
            while (_deadLetters.Count > _options.DeadLetterCapacity && _deadLetters.TryDequeue(out _))
            {
            }
        }

        if (log)
        {
            Log.WriteBehindDeadLettered(_owner.Logger, _owner.Name, entry.Key, entry.Attempts);
        }
        try
        {
            _options.OnDeadLetter?.Invoke(letter);
        }
#pragma warning disable CA1031 // A user's callback must not stop the flusher.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void Replay()
    {
        var rows = _journal!.ReadAll();
        if (rows.Count == 0)
        {
            return;
        }

        var create = typeof(WriteBehindQueue).GetMethod(nameof(CreateReplayedSet), BindingFlags.NonPublic | BindingFlags.Static)!;
        var replayed = 0;
        lock (_gate)
        {
            foreach (var row in rows)
            {
                _sequence = Math.Max(_sequence, row.Sequence);
                var replayTtl = row.Ttl;
                var expired = false;
                if (row.Operation == WriteBehindOperation.Set && row.ExpiresAtUnixMs is { } expiresAt)
                {
                    // The TTL counts from the set, not from this start: what is left of it, or nothing.
                    var left = TimeSpan.FromMilliseconds(expiresAt - _time.GetUtcNow().ToUnixTimeMilliseconds());
                    expired = left <= TimeSpan.Zero;
                    replayTtl = expired ? null : left;
                }

                var isFill = (row.Flags & WriteBehindJournal.JournalFlags.Fill) != 0;
                if (expired && isFill)
                {
                    // A factory's value that expired unwritten: nothing of it is left to write, and a lower tier's value
                    // (perhaps another instance's newer write) is not this instance's to remove.
                    _journal.Complete([(row.Key, row.Sequence)]);
                    continue;
                }

                var options = ReplayOptions(row, replayTtl);
                PendingWrite? entry = null;
                if (row.Operation == WriteBehindOperation.Delete || expired)
                {
                    entry = new PendingDelete(row.Key, options, row.Sequence, _time.GetTimestamp(), _allTiers);
                }
                else if (row.Operation == WriteBehindOperation.Expire)
                {
                    // Which tiers had failed it is not journaled: every lower tier gets it again (the same deadline).
                    if (PendingExpiry.DecodeDeadline(row.Payload) is not { } deadline || row.Ttl is not { } ttl)
                    {
                        _journal.Complete([(row.Key, row.Sequence)]);
                        continue;
                    }

                    entry = new PendingExpiry(row.Key, deadline, ttl, _time, options, row.Sequence, _time.GetTimestamp(), _allTiers);
                }
                else
                {
                    Exception? error = null;
                    var type = row.TypeName is null ? null : Type.GetType(row.TypeName, throwOnError: false);
                    if (type is not null && row.Payload is not null)
                    {
                        try
                        {
                            entry = (PendingWrite)create.MakeGenericMethod(type).Invoke(null, [row.Key, row.Payload, options, row.Sequence, _time.GetTimestamp(), _allTiers])!;
                        }
                        catch (TargetInvocationException e)
                        {
                            error = e.InnerException;
                        }
                    }

                    if (entry is null)
                    {
                        Log.JournalReplayFailed(_owner.Logger, _owner.Name, row.Key, row.TypeName ?? "(none)", error);
                        // Dead-lettered as the set it was, with its TTL; the value is the journaled bytes (TaiCache's
                        // envelope, default MessagePack codec), so the write can still be recovered by hand.
                        var lost = new PendingSet<byte[]>(row.Key, row.Payload ?? [], options, row.Sequence, 0, _allTiers);
                        AddDeadLetter(lost, $"The journaled value of type '{row.TypeName ?? "(none)"}' could not be read back ({error?.Message ?? "the type is not found in this process"}); the dead letter's value holds its stored bytes.");
                        _journal.Complete([(row.Key, row.Sequence)]);
                        continue;
                    }
                }

                if (expired)
                {
                    // The value expired while no process ran: it is not served, and the lower tiers lose the older
                    // value they hold too (the key's latest write ended with it). Journaled as the removal it now is.
                    _journal.Upsert(entry);
                }

                if (entry is not PendingExpiry)
                {
                    entry.SetTtl(replayTtl, _time.GetUtcNow());
                }

                entry.IsFill = isFill && entry is not PendingDelete; // a fill yields to what a lower tier holds, as before the restart

                _pending[row.Key] = entry;
                _order.Enqueue(row.Key);
                entry.ApplyToMemory(_owner);
                replayed++;
            }

            _work.TrySetResult();
        }

        Log.JournalReplayed(_owner.Logger, _owner.Name, replayed);
    }

    /// <summary>
    /// The options a journaled write is replayed with: its TTL (what is left of it), its memory options as journaled,
    /// and its L1 TTL, never past the TTL (rows from before these were journaled: the defaults'). The L1 TTL counts from
    /// the write when the row has a TTL (what it lost since is how long ago it was written): a copy whose L1 TTL ended
    /// while no process ran is not put back in memory. Without a TTL it counts from the restart.
    /// </summary>
    private MultiTierEntryOptions ReplayOptions(WriteBehindJournal.JournalRow row, TimeSpan? ttl)
    {
        var defaults = _owner.DefaultsForQueue;
        var skipMemory = (row.Flags & WriteBehindJournal.JournalFlags.SkipMemoryWrite) != 0;
        if (!skipMemory && row.LocalTtl is null)
        {
            return ttl == defaults.Ttl ? defaults : defaults.WithTtl(ttl);
        }

        var options = defaults.WithTtl(ttl);
        if (row.LocalTtl is { } local)
        {
            var localLeft = row.Ttl is { } written && ttl is { } left && written > left ? local - (written - left) : local;
            skipMemory |= localLeft <= TimeSpan.Zero;
            options.LocalTtl = ttl is { } t && t < localLeft ? t : localLeft > TimeSpan.Zero ? localLeft : null;
        }

        options.SkipMemoryWrite = skipMemory;
        return options;
    }

    private static PendingSet<T> CreateReplayedSet<T>(string key, byte[] payload, MultiTierEntryOptions options, long sequence, long enqueuedAt, int tiers) =>
        new(key, CacheValueCodec.Default.Decode<T>(key, payload), options, sequence, enqueuedAt, tiers);
}
