using TaiCache.Tiering;

namespace TaiCache.Tests.Tiering;

/// <summary>A tier whose ExpireAsync can be held, delayed or failed on its own (other calls pass through).</summary>
public sealed class ExpireControlTier : ICacheOps
{
    private readonly ICacheOps _inner;
    public ExpireControlTier(ICacheOps inner) => _inner = inner;
    public ICacheOps Inner => _inner;
    public string Name => _inner.Name;
    public volatile bool FailExpire;
    public TaskCompletionSource? ExpireGate;
    public TaskCompletionSource ExpireEntered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TimeSpan ExpireDelay;
    public int ExpireCalls;

    public async ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref ExpireCalls);
        ExpireEntered.TrySetResult();
        if (ExpireGate is { } g) { await g.Task; }
        if (ExpireDelay > TimeSpan.Zero) { await Task.Delay(ExpireDelay, cancellationToken); }
        if (FailExpire) { throw new CacheConnectionException("injected expire failure"); }
        return await _inner.ExpireAsync(key, ttl, cancellationToken);
    }

    public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) => _inner.GetAsync<T>(key, cancellationToken);
    public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => _inner.SetAsync(key, value, ttl, cancellationToken);
    public volatile bool FailDelete;
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => FailDelete ? ValueTask.FromException<bool>(new CacheConnectionException("injected delete failure")) : _inner.DeleteAsync(key, cancellationToken);
    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => _inner.ExistsAsync(key, cancellationToken);
    public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default) => _inner.GetManyAsync<T>(keys, cancellationToken);
    public ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => _inner.SetManyAsync(items, ttl, cancellationToken);
    public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => _inner.DeleteManyAsync(keys, cancellationToken);
    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}

