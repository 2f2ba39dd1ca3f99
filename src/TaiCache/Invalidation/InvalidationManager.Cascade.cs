using Microsoft.Extensions.Logging;

namespace TaiCache.Invalidation;

/// <summary>The cascade: walk the graph from the roots, apply the strategy on every tier, broadcast, write the receipt.</summary>
public sealed partial class InvalidationManager
{
    private async ValueTask<InvalidationReceipt> RunAsync(
        InvalidationTrigger trigger,
        string triggerValue,
        IReadOnlyCollection<string> roots,
        InvalidationStrategy strategy,
        bool clearInMemoryTiers,
        CancellationToken cancellationToken,
        List<(string Tier, Exception Error)>? unlisted = null)
    {
        var start = _time.GetTimestamp();
        var now = _time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        var failed = new List<string>();
        if (unlisted is not null)
        {
            foreach (var (tier, error) in unlisted)
            {
                Log.TierListingFailed(_logger, error, id, tier);
                AddFailed(failed, tier);
            }
        }

        var walker = new CascadeWalker(roots, _options.MaxCascadeDepth);
        if (walker.Count > 0)
        {
            await _store.WalkAsync(walker, cancellationToken).ConfigureAwait(false);
        }

        // Cancellation stops an invalidation before anything is removed. Once the tiers are being changed it runs to
        // the end, uncancelled (each tier call is bounded by its own timeout): stopping half way left the nearest tier
        // stale over removed lower tiers, and wrote no receipt.
        cancellationToken.ThrowIfCancellationRequested();
        var traversal = walker.ToTraversal();
        var keys = traversal.AllKeys.ToArray();
        var affected = await ApplyAsync(keys, strategy, id, failed, CancellationToken.None).ConfigureAwait(false);

        var cleared = new List<string>();
        if (clearInMemoryTiers)
        {
            foreach (var tier in _leaves.OfType<InMemoryTier>())
            {
                tier.Clear();
                cleared.Add(tier.Name);
            }

            _tracker.Reset();
        }

        if (_options.Broadcaster is { } broadcaster && (keys.Length > 0 || cleared.Count > 0))
        {
            try
            {
                if (keys.Length > 0)
                {
                    await broadcaster.PublishAsync(keys, CancellationToken.None).ConfigureAwait(false);
                }

                if (cleared.Count > 0)
                {
                    await broadcaster.PublishClearAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.BroadcastFailed(_logger, ex, id);
                failed.Add("broadcast");
            }
        }

        var invalidated = new InvalidatedKey[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            invalidated[i] = new InvalidatedKey(keys[i], traversal, traversal.GetDepth(keys[i]), affected[i]);
        }

        var receipt = new InvalidationReceipt(
            id, now, trigger, triggerValue, strategy, invalidated, traversal.Cycles, traversal.DepthLimitReached,
            InstanceId, _time.GetElapsedTime(start), failed, cleared);

        if (traversal.Cycles.Count > 0 && _logger.IsEnabled(LogLevel.Information))
        {
            foreach (var cycle in traversal.Cycles)
            {
                var through = TaiCacheDiagnostics.DescribeKey(cycle[0]);
                Log.CycleFound(_logger, id, cycle.Count - 1, through);
            }
        }

        if (traversal.DepthLimitReached)
        {
            Log.DepthLimitReached(_logger, id, _options.MaxCascadeDepth);
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var described = TaiCacheDiagnostics.DescribeKey(triggerValue);
            Log.Invalidated(_logger, id, trigger, described, strategy, keys.Length, traversal.Cycles.Count, receipt.Duration.TotalMilliseconds);
        }
        await AuditLog.RecordAsync(receipt, CancellationToken.None).ConfigureAwait(false);
        return receipt;
    }

    private async ValueTask<int[]> ApplyAsync(string[] keys, InvalidationStrategy strategy, Guid id, List<string> failed, CancellationToken cancellationToken)
    {
        var affected = new int[keys.Length];
        if (keys.Length == 0)
        {
            return affected;
        }

        switch (strategy)
        {
            case InvalidationStrategy.Lazy:
                var eager = new List<int>();
                var marked = new List<string>(keys.Length);
                var markedAt = new List<int>(keys.Length);
                for (var i = 0; i < keys.Length; i++)
                {
                    if (_stale.TryMark(keys[i], _options.MaxStaleMarks))
                    {
                        marked.Add(keys[i]);
                        markedAt.Add(i);
                    }
                    else
                    {
                        eager.Add(i);
                    }
                }

                if (marked.Count > 0)
                {
                    var present = await CountPresentAsync([.. marked], id, failed, cancellationToken).ConfigureAwait(false);
                    for (var j = 0; j < present.Length; j++)
                    {
                        affected[markedAt[j]] = present[j];
                    }
                }

                if (eager.Count > 0)
                {
                    Log.StaleMarksFull(_logger, _options.MaxStaleMarks);
                    var subset = eager.Select(i => keys[i]).ToArray();
                    var sub = await RemoveAsync(subset, id, failed, cancellationToken).ConfigureAwait(false);
                    for (var j = 0; j < eager.Count; j++)
                    {
                        affected[eager[j]] = sub[j];
                    }
                }

                return affected;

            case InvalidationStrategy.Ttl:
                return await ShortenAsync(keys, id, failed, cancellationToken).ConfigureAwait(false);

            default:
                return await RemoveAsync(keys, id, failed, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes keys from every tier, last tier first; per-key calls are issued a chunk at a time so remote tiers pipeline them.</summary>
    private async ValueTask<int[]> RemoveAsync(string[] keys, Guid id, List<string> failed, CancellationToken cancellationToken)
    {
        // Untracked before the deletes, not after: a set of the key landing meanwhile tracks it again (it tracks after
        // its write), where untracking afterwards left its new value cached but out of reach of patterns.
        foreach (var key in keys)
        {
            _stale.Unmark(key);
            _tracker.Remove(key);
        }

        return await CountPerTierAsync(keys, id, failed, static (tier, key, ct) => tier.DeleteAsync(key, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counts the tiers holding each key (one existence check per key and tier, pipelined a chunk at a time), for a lazy receipt.</summary>
    private ValueTask<int[]> CountPresentAsync(string[] keys, Guid id, List<string> failed, CancellationToken cancellationToken) =>
        CountPerTierAsync(keys, id, failed, static (tier, key, ct) => tier.ExistsAsync(key, ct), cancellationToken);

    /// <summary>
    /// Runs a per-key call on every tier, last tier first, a chunk at a time so remote tiers pipeline it; counts per
    /// key the tiers where it returned <see langword="true"/>, and names a tier that failed in <paramref name="failed"/>.
    /// </summary>
    private async ValueTask<int[]> CountPerTierAsync(string[] keys, Guid id, List<string> failed, Func<ICacheOps, string, CancellationToken, ValueTask<bool>> operation, CancellationToken cancellationToken)
    {
        var counts = new int[keys.Length];
        for (var t = _tiers.Length - 1; t >= 0; t--)
        {
            var tier = _tiers[t];
            var error = await ForEachChunkAsync(keys, counts, (tier, operation, cancellationToken), static (state, key) => state.operation(state.tier, key, state.cancellationToken), cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                Log.TierFailed(_logger, error, id, tier.Name, keys.Length);
                AddFailed(failed, tier.Name);
            }
        }

        return counts;
    }

    /// <summary>
    /// Shortens every key's remaining TTL to <see cref="InvalidationManagerOptions.ShortenedTtl"/>, never lengthening it
    /// where the tier can tell. A tier counts as affected when it held the key, which now ages out within the bound:
    /// shortened, or left alone because its remaining TTL was already shorter.
    /// </summary>
    private ValueTask<int[]> ShortenAsync(string[] keys, Guid id, List<string> failed, CancellationToken cancellationToken)
    {
        var ttl = _options.ShortenedTtl;
        return CountPerTierAsync(
            keys,
            id,
            failed,
            (tier, key, ct) =>
            {
                if (tier is InMemoryTier memory)
                {
                    var remaining = memory.GetRemainingTtl(key);
                    if (remaining is null || (remaining.Value != Timeout.InfiniteTimeSpan && remaining.Value <= ttl))
                    {
                        // Absent: not affected. Already ageing out sooner: left alone, but it was cached and the
                        // invalidation's promise (gone within ShortenedTtl) holds for it, so it counts.
                        return new ValueTask<bool>(remaining is not null);
                    }
                }

                return tier.ExpireAsync(key, ttl, ct);
            },
            cancellationToken);
    }

    /// <summary>Names a failed tier once, however many steps of the invalidation it failed.</summary>
    private static void AddFailed(List<string> failed, string tier)
    {
        if (!failed.Contains(tier, StringComparer.Ordinal))
        {
            failed.Add(tier);
        }
    }

    /// <summary>Runs a per-key operation over chunks of keys, counting successes; returns the first failure (after trying every key).</summary>
    private static async ValueTask<Exception?> ForEachChunkAsync<TState>(
        string[] keys,
        int[] affected,
        TState state,
        Func<TState, string, ValueTask<bool>> operation,
        CancellationToken cancellationToken)
    {
        Exception? error = null;
        var pending = new ValueTask<bool>[Math.Min(Chunk, keys.Length)];
        for (var start = 0; start < keys.Length; start += Chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(Chunk, keys.Length - start);
            for (var i = 0; i < count; i++)
            {
                try
                {
#pragma warning disable CA2012 // Each ValueTask is stored once and awaited exactly once below; storing them lets a remote tier pipeline the chunk.
                    pending[i] = operation(state, keys[start + i]);
#pragma warning restore CA2012
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
#pragma warning disable CA2012 // Awaited exactly once below.
                    pending[i] = ValueTask.FromException<bool>(ex);
#pragma warning restore CA2012
                }
            }

            for (var i = 0; i < count; i++)
            {
                try
                {
                    if (await pending[i].ConfigureAwait(false))
                    {
                        affected[start + i]++;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    error ??= ex;
                }
            }
        }

        return error;
    }
}
