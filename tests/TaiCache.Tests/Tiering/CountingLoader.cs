namespace TaiCache.Tests.Tiering;

/// <summary>
/// A factory for refresh tests: counts its calls and returns its prefix and the call's number ("v1", "v2", ...). The
/// first call always answers at once; later ones (the refreshes) can be held until <see cref="Release"/>, run until
/// their token is cancelled, or fail.
/// </summary>
internal sealed class CountingLoader
{
    private readonly string _prefix;
    private readonly bool _holdAfterFirst;
    private readonly string? _failAfterFirst;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _refreshStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _untilCancelled;
    private int _calls;

    /// <param name="prefix">What each value starts with.</param>
    /// <param name="holdAfterFirst">Whether calls after the first wait for <see cref="Release"/>.</param>
    /// <param name="failAfterFirst">When set, calls after the first throw an <see cref="InvalidOperationException"/> with this message.</param>
    /// <param name="untilCancelled">Whether calls after the first run until their token is cancelled (see <see cref="Cancelled"/>).</param>
    public CountingLoader(string prefix = "v", bool holdAfterFirst = false, string? failAfterFirst = null, bool untilCancelled = false)
    {
        _prefix = prefix;
        _holdAfterFirst = holdAfterFirst;
        _failAfterFirst = failAfterFirst;
        _untilCancelled = untilCancelled;
    }

    /// <summary>Gets how many calls began.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Gets a task that completes when a call after the first begins.</summary>
    public Task RefreshStarted => _refreshStarted.Task;

    /// <summary>Gets a task that completes when a call running until cancelled sees its token cancelled.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>Lets the held calls (and later ones) finish.</summary>
    public void Release() => _release.TrySetResult();

    /// <summary>Loads one key.</summary>
    public async ValueTask<string> Load(CancellationToken cancellationToken) => _prefix + await NextAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Loads a batch: every key gets the same value.</summary>
    public async ValueTask<IReadOnlyDictionary<string, string>> LoadMany(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var value = _prefix + await NextAsync(cancellationToken).ConfigureAwait(false);
        return keys.Distinct().ToDictionary(k => k, _ => value, StringComparer.Ordinal);
    }

    private async ValueTask<int> NextAsync(CancellationToken cancellationToken)
    {
        var n = Interlocked.Increment(ref _calls);
        if (n == 1)
        {
            return n;
        }

        _refreshStarted.TrySetResult();
        if (_failAfterFirst is not null)
        {
            throw new InvalidOperationException(_failAfterFirst);
        }

        if (_holdAfterFirst)
        {
            await _release.Task.ConfigureAwait(false);
        }

        if (_untilCancelled)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _cancelled.TrySetResult();
            }
        }

        return n;
    }
}
