using TaiCache.Metrics;

namespace TaiCache.Invalidation;

/// <summary>Pattern invalidation: globs and timed regexes over L1 (tracked keys) and tiers that can list keys (Redis SCAN).</summary>
public sealed partial class InvalidationManager
{
    /// <summary>Invalidates every key a pattern selects, and their dependents, with the default strategy.</summary>
    /// <param name="pattern">The pattern; build it from user input with <see cref="CacheKeyPattern.SafeGlob(FormattableString)"/> or <see cref="CacheKeyPattern.Prefix(string)"/>.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt.</returns>
    /// <exception cref="CachePatternTimeoutException">A regular expression timed out; nothing was invalidated.</exception>
    public ValueTask<InvalidationReceipt> InvalidatePatternAsync(CacheKeyPattern pattern, CancellationToken cancellationToken = default) =>
        InvalidatePatternAsync(pattern, _options.DefaultStrategy, cancellationToken);

    /// <summary>Invalidates every key a pattern selects, and their dependents.</summary>
    /// <param name="pattern">The pattern.</param>
    /// <param name="strategy">How to treat the keys reached.</param>
    /// <param name="cancellationToken">Cancels the invalidation.</param>
    /// <returns>The receipt.</returns>
    /// <exception cref="CachePatternTimeoutException">A regular expression timed out; nothing was invalidated.</exception>
    /// <remarks>
    /// Keys are found among the keys written or linked through this manager (for tiers such as <see cref="InMemoryTier"/>
    /// that cannot list keys) and by listing the tiers that can (Redis: <c>SCAN</c> on every primary). All matching
    /// is done before anything is removed, so a regex that times out leaves everything in place. A tier that cannot
    /// be listed (server down) does not stop the invalidation: the keys found elsewhere are still invalidated, and the
    /// tier is named in <see cref="InvalidationReceipt.FailedTiers"/> (keys only it holds may remain until they expire).
    /// </remarks>
    public async ValueTask<InvalidationReceipt> InvalidatePatternAsync(CacheKeyPattern pattern, InvalidationStrategy strategy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        CheckStrategy(strategy);
        ThrowIfDisposed();
        using var activity = StartInvalidateActivity(InvalidationTrigger.Pattern, strategy);
        try
        {
            var unlisted = new List<(string Tier, Exception Error)>();
            var (keys, overflowed) = await MatchAsync(pattern, unlisted, cancellationToken).ConfigureAwait(false);
            var receipt = await RunAsync(InvalidationTrigger.Pattern, pattern.ToString(), keys, strategy, overflowed, cancellationToken, unlisted).ConfigureAwait(false);
            TraceReceipt(activity, receipt);
            return receipt;
        }
        catch (Exception e)
        {
            TaiCacheTelemetry.SetError(activity, e);
            throw;
        }
    }

    /// <summary>Lists the keys a pattern selects, without invalidating them.</summary>
    /// <param name="pattern">The pattern.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The matching keys.</returns>
    /// <exception cref="CachePatternTimeoutException">A regular expression timed out.</exception>
    /// <exception cref="CacheException">A tier that can list keys could not be listed (there is no receipt to name it in, so the listing fails rather than come back incomplete).</exception>
    public async ValueTask<IReadOnlyCollection<string>> FindKeysAsync(CacheKeyPattern pattern, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ThrowIfDisposed();
        return (await MatchAsync(pattern, unlisted: null, cancellationToken).ConfigureAwait(false)).Keys;
    }

    /// <summary>
    /// Matches a pattern against the tracked keys and every tier that can list keys. A tier whose listing fails is
    /// added to <paramref name="unlisted"/> (the keys it gave before failing are kept), or, when that is
    /// <see langword="null"/>, its error is thrown. Caller cancellation, regex timeouts and a pattern the tier refuses
    /// (<see cref="ArgumentException"/>: a bad pattern, not a tier failure) always throw.
    /// </summary>
    private async ValueTask<(List<string> Keys, bool Overflowed)> MatchAsync(CacheKeyPattern pattern, List<(string Tier, Exception Error)>? unlisted, CancellationToken cancellationToken)
    {
        var matched = new HashSet<string>(StringComparer.Ordinal);
        var overflowed = _tracker.Overflowed;
        foreach (var key in _tracker.Snapshot())
        {
            if (pattern.IsMatch(key))
            {
                matched.Add(key);
            }
        }

        foreach (var tier in _leaves)
        {
            var source = TierKeySource.TryEnumerate(tier, pattern.ServerGlob, cancellationToken);
            if (source is null)
            {
                continue;
            }

            try
            {
                await foreach (var key in source.ConfigureAwait(false))
                {
                    if (pattern.IsMatch(key))
                    {
                        matched.Add(key);
                    }
                }
            }
            catch (Exception ex) when (unlisted is not null && ex is not (CachePatternTimeoutException or ArgumentException) && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                unlisted.Add((tier.Name, ex));
            }
        }

        return ([.. matched], overflowed);
    }
}
