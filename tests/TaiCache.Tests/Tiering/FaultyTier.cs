using TaiCache.Tiering;
namespace TaiCache.Tests.Tiering;

/// <summary>
/// A failure-injecting wrapper around a real tier, for unit-level logic: it can be down, fail a chosen share of calls,
/// hold calls at a gate, and counts calls. The fault cases run against a real redis-server instead.
/// </summary>
public sealed class FaultyTier : ICacheOps, IConditionalWriter
{
    private readonly ICacheOps _inner;
    private long _calls;
    private long _getCalls;
    private long _getManyCalls;
    private long _setCalls;
    private long _setManyCalls;
    private int _readsHeld;
    private int _getsHeld;

    public FaultyTier(ICacheOps inner, string? name = null)
    {
        _inner = inner;
        Name = name ?? inner.Name;
    }

    public string Name { get; }

    /// <summary>Gets or sets a value indicating whether every call fails.</summary>
    public volatile bool Down;

    /// <summary>Gets or sets a rule failing the n-th call (1-based) when it returns true.</summary>
    public Func<long, bool>? FailWhen { get; set; }

    /// <summary>Gets or sets a gate every call waits on (null for none).</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>Gets or sets which keys the gate applies to (by the first key of a batch); null for all.</summary>
    public Func<string, bool>? GateWhen { get; set; }

    /// <summary>Gets or sets a gate a batch read waits on after it has read the inner tier (null for none): its answer is
    /// as of before the gate opened. <see cref="ReadHeld"/> is completed when a read reaches it.</summary>
    public TaskCompletionSource? ReadHold { get; set; }

    /// <summary>Gets a task completed when a batch read first waits at <see cref="ReadHold"/>.</summary>
    public TaskCompletionSource ReadHeld { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets or sets a gate a single read waits on after it has read the inner tier (null for none): its answer
    /// is as of before the gate opened. <see cref="GetHeld"/> is completed when a read reaches it.</summary>
    public TaskCompletionSource? GetHold { get; set; }

    /// <summary>Gets a task completed when a single read first waits at <see cref="GetHold"/>.</summary>
    public TaskCompletionSource GetHeld { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets or sets a gate a single set waits on after it has written the inner tier (null for none): the value
    /// is there, the set not yet answered. <see cref="WriteHeld"/> is completed when a set reaches it.</summary>
    public TaskCompletionSource? WriteHold { get; set; }

    /// <summary>Gets a task completed when a single set first waits at <see cref="WriteHold"/>.</summary>
    public TaskCompletionSource WriteHeld { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets or sets a callback told of every value written through to the inner tier, in order.</summary>
    public Action<string, object?>? OnWrite { get; set; }

    /// <summary>Gets or sets a delay added to every call.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>
    /// Holds the calls that name <paramref name="key"/> (writes, and batches whose first key it is; single reads name no
    /// key here) at a new <see cref="Gate"/>, or only the first of them (<paramref name="firstOnly"/>); returns the gate
    /// with a task completed when the first such call reaches it.
    /// </summary>
    public (TaskCompletionSource Gate, TaskCompletionSource Reached) HoldCallsOn(string key, bool firstOnly = false)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = 0;
        GateWhen = k =>
        {
            if (k != key || (firstOnly && Interlocked.Exchange(ref held, 1) != 0))
            {
                return false;
            }

            reached.TrySetResult();
            return true;
        };
        Gate = gate;
        return (gate, reached);
    }

    public long Calls => Interlocked.Read(ref _calls);

    public long GetCalls => Interlocked.Read(ref _getCalls);

    public long GetManyCalls => Interlocked.Read(ref _getManyCalls);

    public long SetCalls => Interlocked.Read(ref _setCalls);

    public long SetManyCalls => Interlocked.Read(ref _setManyCalls);

    public ICacheOps Inner => _inner;

    private async ValueTask Enter(CancellationToken ct, string? key = null)
    {
        var n = Interlocked.Increment(ref _calls);
        if (Gate is { } gate && (GateWhen is null || (key is not null && GateWhen(key))))
        {
            await gate.Task.WaitAsync(ct);
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, ct);
        }

        if (Down || (FailWhen?.Invoke(n) ?? false))
        {
            throw new CacheConnectionException($"Injected failure in tier '{Name}' (call {n}).");
        }
    }

    public async ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _getCalls);
        await Enter(cancellationToken);
        var found = await _inner.GetAsync<T>(key, cancellationToken);
        if (GetHold is { } hold && Interlocked.Exchange(ref _getsHeld, 1) == 0)
        {
            GetHeld.TrySetResult();
            await hold.Task.WaitAsync(cancellationToken);
        }

        return found;
    }

    public async ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _setCalls);
        await Enter(cancellationToken, key);
        await _inner.SetAsync(key, value, ttl, cancellationToken);
        OnWrite?.Invoke(key, value);
        if (WriteHold is { } hold)
        {
            WriteHeld.TrySetResult();
            await hold.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>A set that yields to a value the key holds (the inner tier's own add; a plain set when it has none), counted as a set.</summary>
    public async ValueTask<bool> AddAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _setCalls);
        await Enter(cancellationToken, key);
        if (_inner is IConditionalWriter adder)
        {
            if (!await adder.AddAsync(key, value, ttl, cancellationToken))
            {
                return false;
            }
        }
        else
        {
            await _inner.SetAsync(key, value, ttl, cancellationToken);
        }

        OnWrite?.Invoke(key, value);
        return true;
    }

    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        await Enter(cancellationToken);
        return await _inner.DeleteAsync(key, cancellationToken);
    }

    public async ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        await Enter(cancellationToken, key);
        return await _inner.ExistsAsync(key, cancellationToken);
    }

    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        await Enter(cancellationToken);
        return await _inner.ExpireAsync(key, ttl, cancellationToken);
    }

    public async ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _getManyCalls);
        await Enter(cancellationToken);
        var found = await _inner.GetManyAsync<T>(keys, cancellationToken);
        if (ReadHold is { } hold && Interlocked.Exchange(ref _readsHeld, 1) == 0)
        {
            ReadHeld.TrySetResult();
            await hold.Task.WaitAsync(cancellationToken);
        }

        return found;
    }

    public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _setManyCalls);
        var list = items.ToList();
        await Enter(cancellationToken, list.Count > 0 ? list[0].Key : null);
        await _inner.SetManyAsync(list, ttl, cancellationToken);
        foreach (var item in list)
        {
            OnWrite?.Invoke(item.Key, item.Value);
        }
    }

    /// <summary>A batch set that yields to values the keys hold (the inner tier's own; plain sets when it has none), counted as a batch set.</summary>
    public async ValueTask<bool[]> AddManyAsync<T>(IReadOnlyList<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _setManyCalls);
        await Enter(cancellationToken, items.Count > 0 ? items[0].Key : null);
        bool[] added;
        if (_inner is IConditionalWriter adder)
        {
            added = await adder.AddManyAsync(items, ttl, cancellationToken);
        }
        else
        {
            await _inner.SetManyAsync(items, ttl, cancellationToken);
            added = [.. items.Select(_ => true)];
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (added[i])
            {
                OnWrite?.Invoke(items[i].Key, items[i].Value);
            }
        }

        return added;
    }

    public async ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        await Enter(cancellationToken);
        return await _inner.DeleteManyAsync(keys, cancellationToken);
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
