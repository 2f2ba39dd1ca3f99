namespace TaiCache;

/// <summary>
/// The eviction policy, run under <see cref="_sync"/>: W-TinyLFU (window, then probation/protected main space, with
/// count-min-sketch admission) over CLOCK-approximated queues, whose window size adapts ARC-style from ghost hits.
/// </summary>
public sealed partial class InMemoryTier
{
    private const double InitialWindowShare = 0.01;
    private const double ProtectedShare = 0.8;
    // The window may take the whole tier: where every reuse only just fits (an LRU stack model with re-requests at
    // 90-100% of the capacity), a 99% cap left the last 1% of depths to win admission into a main of 10 entries in
    // 1,000 (73.8% against LRU's 80.0; 78.6% uncapped). Main's ghost hits still shrink it.
    private const double MaximumWindowShare = 1.0;


    // Each ghost queue remembers half a cache's worth of evicted keys.
    internal const double GhostShare = 0.5;

    // The thrash guard (see MayGrowWindow), over moving averages of about the last thousand new keys: the window stops
    // growing when more than a fifth of them were main's recent evictions and more than 85% were recent evictions of
    // either side. Without the guard, loops sit at (0.4, 0.94); OLTP at (0.03, 0.1); P3 at 131,072 entries has a
    // phase at (0.43, 0.70), which the second condition spares, and one at (0.02, 0.99) (docs/memory.md).
    private const double ThrashShare = 0.2;
    private const double ThrashGhostShare = 0.85;
    private const double ThrashDecay = 0.001;

    // A hold that the thrash ends at once after (within a tier's worth of new keys) is doubled the next time, up to
    // this many tiers' worth: a loop that outlasts the hold otherwise regrows the window every time, and each regrowth
    // costs main entries that come straight back (a 1,500-key loop through 1,000 entries: 57-59% hits, 60-61% with it).
    private const int MaximumHoldTiers = 64;

    private readonly Lock _sync = new();
    private readonly NodeList _window = new();
    private readonly NodeList _probation = new();
    private readonly NodeList _protected = new();
    private readonly FrequencySketch _sketch;
    private readonly GhostQueue _windowGhosts;
    private readonly GhostQueue _mainGhosts;

    // How far a miss on a key the window let go grows the window: half as much as ARC would to begin with (full
    // ARC-sized steps over-grow the window on frequency-skewed workloads, see docs/memory.md), tuned between half and
    // whole by the sampled hit rate.
    private readonly WindowGrowthClimber _growth = new();
    private readonly long _maximum;
    private readonly long[] _evictionCounts = new long[4];
    private bool _disposed;
    private long _count;
    private long _totalWeight;

    // What Count and Weight report: published at the end of each locked operation, so readers never see the
    // transient one-over state between linking a new entry and evicting for it.
    private long _publishedCount;
    private long _publishedWeight;
    private long _windowMaximum;
    private long _protectedMaximum;
    private long _expiring;
    private long _now;
    private long _writes;

    // Incremental expiry sweep: a cursor walking the queues from their tails.
    private MemoryNode? _sweepCursor;
    private int _sweepQueue;

    // The window's target size, moved by ghost hits (see Adapt).
    private double _windowTarget;

    // The thrash guard's state: new keys seen, the moving shares of them that main had just evicted and that either
    // side had, and until which new key the window may not grow.
    private long _newKeys;
    private double _mainGhostShare;
    private double _ghostShare;
    private long _growthHeldUntil;
    private long _holdLength;

    private void InitializePolicy()
    {
        _windowTarget = Math.Max(_weigher is null ? 1 : 0, _maximum * InitialWindowShare);
        ApplyWindowTarget();

        // Stamps of 16 bits, coarse enough that a whole tier's worth of window insertions spans at most half their range.
        _windowStampShift = Math.Max(0, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)_maximum) - 15);
    }

    private void ApplyWindowTarget()
    {
        _windowMaximum = (long)_windowTarget;
        _protectedMaximum = (long)((_maximum - _windowMaximum) * ProtectedShare);
    }

    private void StartLockedOperation() => _now = _expiring > 0 ? Now() : long.MinValue;

    private bool IsExpired(MemoryNode node)
    {
        var expires = node.ExpiresAt;
        return expires != MemoryNode.NoExpiry && expires <= _now;
    }

    /// <summary>Writes an entry; <see langword="false"/> when it could never fit (heavier than the tier) and was rejected at once.</summary>
    private bool Write(MemoryNode node, ref List<CacheEvictionEventArgs>? events)
    {
        StartLockedOperation();
        return WriteStarted(node, ref events);
    }

    /// <summary>A write inside a locked operation already started (several writes share one clock read); as <see cref="Write"/>.</summary>
    private bool WriteStarted(MemoryNode node, ref List<CacheEvictionEventArgs>? events)
    {
        if (node.Weight > _maximum)
        {
            // Can never fit: the old value goes (it was replaced) and the new one is rejected at once.
            if (_map.TryGetValue(node.Key, out var previous))
            {
                Drop(previous, IsExpired(previous) ? EvictionReason.Expired : EvictionReason.Replaced, ref events);
            }

            _sketch.Increment(node.Hash);
            Notify(node.Key, EvictionReason.Size, ref events);
            PublishSize();
            return false;
        }

        var old = _map.Set(node);
        var queue = NodeQueue.Window;
        if (old is not null)
        {
            queue = old.Queue == NodeQueue.None ? NodeQueue.Window : old.Queue;
            node.Hits = old.Hits;
            Unlink(old);
            Notify(old.Key, IsExpired(old) ? EvictionReason.Expired : EvictionReason.Replaced, ref events);
        }
        else
        {
            CountNewKey();
            Adapt(node.Hash, node.Weight);
        }

        Link(node, queue);
        _sketch.Increment(node.Hash);
        Maintain(ref events, node);
        PublishSize();
        return true;
    }

    /// <summary>
    /// Writes a batch inside a locked operation already started. When the batch alone overfills the window (a batch
    /// read copying lower-tier hits up, a bulk load), its earlier new entries would be pushed out of the window by the
    /// later ones before any read could touch them; while the tier is full they go straight to TinyLFU admission
    /// instead, so an entry that loses never enters the map. A scan through a full tier then costs little besides
    /// the popularity count, and still displaces nothing.
    /// </summary>
    private void WriteBatchStarted(ReadOnlySpan<NodeDraft> drafts, ref List<CacheEvictionEventArgs>? events)
    {
        var direct = _weigher is null ? drafts.Length - _windowMaximum : 0;
        for (var i = 0; i < drafts.Length; i++)
        {
            ref readonly var draft = ref drafts[i];
            if (i >= direct || _totalWeight < _maximum || _map.ContainsKey(draft.Key, draft.Hash) || !TryAdmitDirectly(draft, ref events))
            {
                WriteStarted(draft.Build(), ref events);
            }
        }
    }

    /// <summary>
    /// Admits a new entry into main, bypassing the window, or rejects it without storing it. The contest needs only the
    /// entry's hash, so a rejected entry is never allocated a node.
    /// </summary>
    /// <returns><see langword="false"/> when main holds nothing to compare with (the caller writes through the window).</returns>
    private bool TryAdmitDirectly(in NodeDraft draft, ref List<CacheEvictionEventArgs>? events)
    {
        var victim = MainVictim();
        if (victim is null)
        {
            return false;
        }

        if (IsExpired(victim))
        {
            // An expired victim is no contest: it goes, and the entry is written as usual (the tier has room now). Left
            // there, a tier full of expired entries turned most of a batch away at admission while holding nothing live.
            Drop(victim, EvictionReason.Expired, ref events);
            return false;
        }

        // Neither counting the key nor adapting the window moves an entry, so the victim found stays main's victim.
        CountNewKey();
        var frequency = _sketch.Increment(draft.Hash);
        if (frequency <= 1)
        {
            // First sighting since the sketch last halved: it can only beat a victim whose count has faded to zero, so
            // it loses without the contest (and without the ghost lookups, which a key new to the sketch hardly ever
            // hits). Replaying OLTP and P3 in batches of 100 this way moved hit ratios by -0.06 to +0.17 points, within
            // the runs' spread, and made a copy into a full tier about a tenth cheaper (docs/benchmarks.md, session 5).
            RejectAtAdmission(draft, ref events);
            PublishSize();
            return true;
        }

        Adapt(draft.Hash, draft.Weight);
        if (Contest(frequency, draft.Weight, victim, ref events))
        {
            var node = draft.Build();
            _map.Set(node);
            Link(node, NodeQueue.Probation);
            Maintain(ref events);
        }
        else
        {
            RejectAtAdmission(draft, ref events);
        }

        PublishSize();
        return true;
    }

    /// <summary>As if the entry had entered the window and lost at admission: remembered as the window's ghost, reported evicted.</summary>
    private void RejectAtAdmission(in NodeDraft draft, ref List<CacheEvictionEventArgs>? events)
    {
        _windowGhosts.Add(draft.Hash);
        Notify(draft.Key, EvictionReason.Size, ref events);
    }

    private void PublishSize()
    {
        Volatile.Write(ref _publishedCount, _count);
        Volatile.Write(ref _publishedWeight, _totalWeight);
    }

    /// <summary>Sweeps a little, moves the window's overflow to admission, evicts while the tier is too heavy.</summary>
    /// <param name="events">The eviction events to raise after the lock.</param>
    /// <param name="written">The entry this write just put in the window, if any. It is never its own write's admission
    /// candidate, and the window holds it even when it alone outweighs the window's share (a weighted tier), so a read
    /// right after a set finds the value; it competes when a later write pushes it out.</param>
    private void Maintain(ref List<CacheEvictionEventArgs>? events, MemoryNode? written = null)
    {
        _writes++;
        ReplayWindowReads();
        if (_expiring > 0)
        {
            Sweep(2, ref events);
        }

        if (_weigher is not null && _count > _sketch.Capacity)
        {
            _sketch.EnsureCapacity(_count * 2);
            _windowGhosts.Resize((long)(_count * 2 * GhostShare));
            _mainGhosts.Resize((long)(_count * 2 * GhostShare));
        }

        // Window overflow: its least recent entry (after a second chance if read) competes for a place in main.
        var chances = _window.Count;
        var budget = written is { Queue: NodeQueue.Window } ? Math.Max(_windowMaximum, written.Weight) : _windowMaximum;
        while (_window.Weight > budget && _window.Tail is { } candidate)
        {
            if (IsExpired(candidate))
            {
                Drop(candidate, EvictionReason.Expired, ref events);
                continue;
            }

            if (ReferenceEquals(candidate, written))
            {
                // Older entries are behind it once it is at the head; the loop ends when they are gone or it fits alone.
                MoveTo(candidate, _window, NodeQueue.Window);
                continue;
            }

            if (candidate.Hits > 0 && chances-- > 0)
            {
                Fold(candidate);
                MoveTo(candidate, _window, NodeQueue.Window);
                continue;
            }

            Fold(candidate);
            Admit(candidate, ref events);
        }

        // Still too heavy (the window grew into main's space, or weights changed): evict from main, then the window.
        while (_totalWeight > _maximum)
        {
            var victim = MainVictim() ?? _window.Tail;
            if (victim is null)
            {
                break;
            }

            Drop(victim, IsExpired(victim) ? EvictionReason.Expired : EvictionReason.Size, ref events);
        }

        RebalanceProtected();
    }

    /// <summary>TinyLFU admission: the window's candidate enters main only if it is more popular than main's victims.</summary>
    private void Admit(MemoryNode candidate, ref List<CacheEvictionEventArgs>? events)
    {
        if (Contest(_sketch.Frequency(candidate.Hash), 0, null, ref events))
        {
            MoveTo(candidate, _probation, NodeQueue.Probation);
        }
        else
        {
            Drop(candidate, EvictionReason.Size, ref events);
        }
    }

    /// <summary>
    /// Evicts main's victims while the tier (plus <paramref name="incoming"/>, a candidate not yet counted) is too
    /// heavy and the candidate is more popular than each; stops at the first victim at least as popular.
    /// </summary>
    /// <param name="frequency">The candidate's estimated frequency (evicting victims does not change it).</param>
    /// <param name="incoming">The candidate's weight when it is not counted in the tier yet, else 0.</param>
    /// <param name="victim">Main's current victim when the caller just found it, else <see langword="null"/>.</param>
    /// <param name="events">The eviction events to raise after the lock.</param>
    /// <returns><see langword="false"/> when the candidate lost.</returns>
    private bool Contest(int frequency, long incoming, MemoryNode? victim, ref List<CacheEvictionEventArgs>? events)
    {
        var guard = 0;
        while (_totalWeight + incoming > _maximum)
        {
            victim ??= MainVictim();
            if (victim is null || guard++ > 1000)
            {
                break;
            }

            if (IsExpired(victim))
            {
                Drop(victim, EvictionReason.Expired, ref events);
                victim = null;
                continue;
            }

            if (frequency <= _sketch.Frequency(victim.Hash))
            {
                return false;
            }

            Drop(victim, EvictionReason.Size, ref events);
            victim = null;
        }

        return true;
    }

    /// <summary>Main's next victim: probation's least recent entry not read since it was last looked at; read ones are promoted.</summary>
    private MemoryNode? MainVictim()
    {
        for (var guard = 0; guard < 4096; guard++)
        {
            var victim = _probation.Tail;
            if (victim is null)
            {
                var demoted = _protected.Tail;
                if (demoted is null)
                {
                    return null;
                }

                Fold(demoted);
                MoveTo(demoted, _probation, NodeQueue.Probation);
                continue;
            }

            if (victim.Hits > 0 && !IsExpired(victim))
            {
                Fold(victim);
                MoveTo(victim, _protected, NodeQueue.Protected);
                RebalanceProtected();
                continue;
            }

            return victim;
        }

        return _probation.Tail ?? _protected.Tail;
    }

    private void RebalanceProtected()
    {
        var chances = _protected.Count;
        while (_protected.Weight > _protectedMaximum && _protected.Tail is { } tail)
        {
            if (tail.Hits > 0 && chances-- > 0)
            {
                Fold(tail);
                MoveTo(tail, _protected, NodeQueue.Protected);
                continue;
            }

            MoveTo(tail, _probation, NodeQueue.Probation);
        }
    }

    /// <summary>Adds the reads an entry collected since last looked at to the frequency sketch.</summary>
    private void Fold(MemoryNode node)
    {
        var hits = node.Hits;
        if (hits > 0)
        {
            _growth.RecordHits(hits);
            node.Hits = 0;
            _sketch.Increment(node.Hash, hits);
        }
    }

    /// <summary>Counts a miss for the growth step's sample, which spans twenty times the tier's capacity in requests (in entries, with a weigher).</summary>
    private void CountNewKey() =>
        _growth.RecordMiss(WindowGrowthClimber.SampleCapacities * (_weigher is null ? _maximum : Math.Max(_count, 1024)));

    /// <summary>
    /// ARC-style adaptation, run on every new key: a miss on a key the window (or admission) let go recently asks for a
    /// bigger window; one on a key main let go asks for a bigger main. While main's own evictions keep coming back
    /// (the thrash guard, see <see cref="ThrashShare"/>), the window does not grow.
    /// </summary>
    private void Adapt(int hash, long weight)
    {
        var unit = Math.Max(1, weight);
        _newKeys++;
        _mainGhostShare -= _mainGhostShare * ThrashDecay;
        _ghostShare -= _ghostShare * ThrashDecay;
        if (_windowGhosts.Count > 0 && _windowGhosts.Contains(hash))
        {
            _ghostShare += ThrashDecay;
            if (!MayGrowWindow())
            {
                return;
            }

            var ratio = Math.Max(1.0, (double)_mainGhosts.Count / _windowGhosts.Count);
            _windowTarget = Math.Min(_windowTarget + (unit * ratio * _growth.Rate), _maximum * MaximumWindowShare);
            ApplyWindowTarget();
        }
        else if (_mainGhosts.Count > 0 && _mainGhosts.Contains(hash))
        {
            _mainGhostShare += ThrashDecay;
            _ghostShare += ThrashDecay;
            var ratio = Math.Max(1.0, (double)_windowGhosts.Count / _mainGhosts.Count);
            _windowTarget = Math.Max(_windowTarget - (unit * ratio), _weigher is null ? 1 : 0);
            ApplyWindowTarget();
        }
    }

    /// <summary>
    /// The thrash guard. Growing the window evicts main's victims without a contest; when nearly every recent new key
    /// is a recent eviction and a fifth of them are main's own back again, the keys are cycling through a tier slightly
    /// too small for them (a loop), where a bigger window catches nothing (the keys' reuse distance exceeds the whole
    /// tier) and every growth step costs a main entry that comes straight back. Growth then stops for as many new keys
    /// as the tier holds (twice as many as the last hold when the thrash resumed right after it, see
    /// <see cref="MaximumHoldTiers"/>), and main keeps a fixed part of the cycle, as LFU would.
    /// </summary>
    private bool MayGrowWindow()
    {
        if (_newKeys < _growthHeldUntil)
        {
            return false;
        }

        if (_mainGhostShare > ThrashShare && _ghostShare > ThrashGhostShare)
        {
            var length = Math.Max(1, _count);
            if (_growthHeldUntil > 0 && _newKeys - _growthHeldUntil < length)
            {
                // The thrash came back as soon as the last hold ended: hold twice as long.
                length = Math.Min(Math.Max(_holdLength, length) * 2, MaximumHoldTiers * length);
            }

            _holdLength = length;
            _growthHeldUntil = _newKeys + length;
            return false;
        }

        return true;
    }

    private void Sweep(int steps, ref List<CacheEvictionEventArgs>? events)
    {
        for (var i = 0; i < steps; i++)
        {
            if (_sweepCursor is null)
            {
                _sweepQueue = (_sweepQueue + 1) % 3;
                _sweepCursor = QueueList((NodeQueue)(_sweepQueue + 1)).Tail;
                if (_sweepCursor is null)
                {
                    continue;
                }
            }

            var node = _sweepCursor;
            _sweepCursor = node.Prev;
            if (IsExpired(node))
            {
                Drop(node, EvictionReason.Expired, ref events);
            }
        }
    }

    private long CompactLocked(double fraction, ref List<CacheEvictionEventArgs>? events)
    {
        _now = Now();
        var before = _count;
        var target = (long)Math.Floor(before * (1 - fraction));
        foreach (var list in new[] { _window, _probation, _protected })
        {
            for (var node = list.Tail; node is not null;)
            {
                var prev = node.Prev;
                if (IsExpired(node))
                {
                    Drop(node, EvictionReason.Expired, ref events);
                }

                node = prev;
            }
        }

        while (_count > target)
        {
            var victim = MainVictim() ?? _window.Tail;
            if (victim is null)
            {
                break;
            }

            Drop(victim, EvictionReason.Size, ref events);
        }

        PublishSize();
        return before - _count;
    }

    private void ClearLocked(ref List<CacheEvictionEventArgs>? events)
    {
        if (Evicted is not null || _metrics is not null)
        {
            foreach (var list in new[] { _window, _probation, _protected })
            {
                for (var node = list.Head; node is not null; node = node.Next)
                {
                    Notify(node.Key, EvictionReason.Removed, ref events);
                }
            }
        }

        foreach (var list in new[] { _window, _probation, _protected })
        {
            for (var node = list.Head; node is not null;)
            {
                var next = node.Next;
                node.Queue = NodeQueue.None;
                node.Prev = null;
                node.Next = null;
                node = next;
            }

            list.Clear();
        }

        _map.Clear();
        ForgetWindowReads();
        _growth.Restart();
        _sweepCursor = null;
        _count = 0;
        _totalWeight = 0;
        _expiring = 0;
        PublishSize();
    }

    /// <summary>Takes an entry out of the map and the policy, and tells listeners.</summary>
    private void DropAndPublish(MemoryNode node, EvictionReason reason, ref List<CacheEvictionEventArgs>? events)
    {
        Drop(node, reason, ref events);
        PublishSize();
    }

    private void Drop(MemoryNode node, EvictionReason reason, ref List<CacheEvictionEventArgs>? events)
    {
        if (reason == EvictionReason.Size)
        {
            (node.Queue == NodeQueue.Window ? _windowGhosts : _mainGhosts).Add(node.Hash);
        }

        _map.TryRemove(node);
        Unlink(node);
        Notify(node.Key, reason, ref events);
    }

    private void Notify(string key, EvictionReason reason, ref List<CacheEvictionEventArgs>? events)
    {
        _evictionCounts[(int)reason]++;
        _metrics?.RecordEviction(reason);
        if (Evicted is not null)
        {
            (events ??= []).Add(new CacheEvictionEventArgs(key, reason));
        }
    }

    private void Link(MemoryNode node, NodeQueue queue)
    {
        if (queue == NodeQueue.Window)
        {
            StampWindowEntry(node);
        }

        QueueList(queue).AddFirst(node);
        node.Queue = queue;
        _count++;
        _totalWeight += node.Weight;
        if (node.ExpiresAt != MemoryNode.NoExpiry)
        {
            _expiring++;
        }
    }

    private void Unlink(MemoryNode node)
    {
        if (node.Queue == NodeQueue.None)
        {
            return;
        }

        if (ReferenceEquals(node, _sweepCursor))
        {
            _sweepCursor = node.Prev;
        }

        QueueList(node.Queue).Remove(node);
        node.Queue = NodeQueue.None;
        _count--;
        _totalWeight -= node.Weight;
        if (node.ExpiresAt != MemoryNode.NoExpiry)
        {
            _expiring--;
        }
    }

    private void MoveTo(MemoryNode node, NodeList target, NodeQueue queue)
    {
        if (ReferenceEquals(node, _sweepCursor))
        {
            _sweepCursor = node.Prev;
        }

        if (queue == NodeQueue.Window)
        {
            StampWindowEntry(node);
        }

        QueueList(node.Queue).Remove(node);
        target.AddFirst(node);
        node.Queue = queue;
    }

    private NodeList QueueList(NodeQueue queue) => queue switch
    {
        NodeQueue.Window => _window,
        NodeQueue.Probation => _probation,
        _ => _protected,
    };
}
