using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TaiCache.Tiering.Warming;

/// <summary>
/// Preloads a cache (any <see cref="ICacheOps"/>: one tier, or a multi-tier cache) from a loader called per key or from
/// a stream of key/value pairs, with bounded concurrency, progress reports and a summary.
/// </summary>
/// <remarks>
/// A failing key never stops the warm-up: it is counted, kept in <see cref="WarmupSummary.Failures"/> with its
/// exception, and the others go on. Cancelling the token stops it with an <see cref="OperationCanceledException"/>.
/// </remarks>
public sealed class CacheWarmer
{
    /// <summary>The most room a batch list takes before its items come: a large <see cref="CacheWarmerOptions.BatchSize"/> is not allocated up front.</summary>
    private const int InitialBatchCapacity = 1024;

    private readonly ICacheOps _cache;

    /// <summary>The cache's own key limit when it has one (a multi-tier cache's follows its tiers), else the default.</summary>
    private int MaxKeyBytes => _cache is IKeyLimited limited ? limited.MaxKeyBytes : CacheKeyRules.DefaultMaxKeyBytes;

    /// <summary>Whether the cache takes keys with spaces (a memcached tier does not).</summary>
    private bool AllowSpaces => _cache is not IKeyLimited { AllowsSpaces: false };
    private readonly CacheWarmerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Initializes a warmer for one cache.</summary>
    /// <param name="cache">The cache to fill.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public CacheWarmer(ICacheOps cache, CacheWarmerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
        _options = (options ?? new CacheWarmerOptions()).Clone();
        _options.Validate();
        _logger = _options.LoggerFactory?.CreateLogger<CacheWarmer>() ?? NullLogger<CacheWarmer>.Instance;
    }

    /// <summary>Loads every key with <paramref name="loader"/> and stores the values, at most <see cref="CacheWarmerOptions.MaxConcurrency"/> at a time.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="keys">The keys; validated (and de-duplicated) before anything is loaded.</param>
    /// <param name="loader">Loads the value of one key.</param>
    /// <param name="progress">Receives a snapshot after each key; <see langword="null"/> for none.</param>
    /// <param name="cancellationToken">Stops the warm-up.</param>
    /// <returns>The summary.</returns>
    /// <exception cref="InvalidCacheKeyException">A key breaks the key rules; nothing is loaded.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<WarmupSummary> WarmAsync<T>(IEnumerable<string> keys, Func<string, CancellationToken, ValueTask<T>> loader, IProgress<WarmupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loader);
        var list = CacheKeyRules.ValidateAll(keys, MaxKeyBytes, AllowSpaces);
        var run = new Run(this, list.Count, progress);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(list, parallel, async (key, ct) =>
        {
            try
            {
                if (_options.SkipExisting && await _cache.ExistsAsync(key, ct).ConfigureAwait(false))
                {
                    run.Skip(1);
                    return;
                }

                var value = await loader(key, ct).ConfigureAwait(false);
                await _cache.SetAsync(key, value, _options.Ttl, ct).ConfigureAwait(false);
                run.Load(1);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                run.Fail(key, ex);
            }
        }).ConfigureAwait(false);
        return run.Finish();
    }

    /// <summary>Stores key/value pairs from a stream in batches (<see cref="CacheWarmerOptions.BatchSize"/>), at most <see cref="CacheWarmerOptions.MaxConcurrency"/> batches at a time.</summary>
    /// <typeparam name="T">The values' type.</typeparam>
    /// <param name="items">The pairs. A pair with an invalid key is counted as failed; the rest of its batch is still stored. Not de-duplicated: a key that comes twice is stored and counted twice, and which value is left is not defined when the two fall in different batches.</param>
    /// <param name="progress">Receives a snapshot after each batch; <see langword="null"/> for none.</param>
    /// <param name="cancellationToken">Stops the warm-up.</param>
    /// <returns>The summary.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<WarmupSummary> WarmAsync<T>(IAsyncEnumerable<KeyValuePair<string, T>> items, IProgress<WarmupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var run = new Run(this, null, progress);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Batch(items, _options.BatchSize, cancellationToken), parallel, async (batch, ct) =>
        {
            var valid = new List<KeyValuePair<string, T>>(batch.Count);
            foreach (var item in batch)
            {
                var key = item.Key;
                try
                {
                    CacheKeyRules.Validate(key, MaxKeyBytes, AllowSpaces, paramName: nameof(items));
                    if (_options.SkipExisting && await _cache.ExistsAsync(key, ct).ConfigureAwait(false))
                    {
                        run.Skip(1);
                        continue;
                    }

                    valid.Add(item);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    run.Fail(key, ex);
                }
            }

            if (valid.Count == 0)
            {
                return;
            }

            try
            {
                await _cache.SetManyAsync(valid, _options.Ttl, ct).ConfigureAwait(false);
                run.Load(valid.Count);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                foreach (var item in valid)
                {
                    run.Fail(item.Key, ex);
                }
            }
        }).ConfigureAwait(false);
        return run.Finish();
    }

    private static async IAsyncEnumerable<List<KeyValuePair<string, T>>> Batch<T>(IAsyncEnumerable<KeyValuePair<string, T>> items, int size, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var batch = new List<KeyValuePair<string, T>>(Math.Min(size, InitialBatchCapacity));
        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            batch.Add(item);
            if (batch.Count == size)
            {
                yield return batch;
                batch = new List<KeyValuePair<string, T>>(Math.Min(size, InitialBatchCapacity));
            }
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>The counters of one warm-up, shared by its workers.</summary>
    private sealed class Run
    {
        private readonly CacheWarmer _owner;
        private readonly int? _total;
        private readonly IProgress<WarmupProgress>? _progress;
        private readonly long _started;
        private readonly ConcurrentQueue<WarmupFailure> _failures = new();
        private int _loaded;
        private int _failed;
        private int _skipped;

        public Run(CacheWarmer owner, int? total, IProgress<WarmupProgress>? progress)
        {
            _owner = owner;
            _total = total;
            _progress = progress;
            _started = owner._options.TimeProvider.GetTimestamp();
        }

        public void Load(int count)
        {
            Interlocked.Add(ref _loaded, count);
            Report();
        }

        public void Skip(int count)
        {
            Interlocked.Add(ref _skipped, count);
            Report();
        }

        public void Fail(string key, Exception exception)
        {
            if (Interlocked.Increment(ref _failed) <= _owner._options.MaxRecordedFailures)
            {
                _failures.Enqueue(new WarmupFailure(key, exception));
            }

            Log.ItemFailed(_owner._logger, _owner._cache.Name, exception);
            Report();
        }

        public WarmupSummary Finish()
        {
            var elapsed = Elapsed();
            var summary = new WarmupSummary(Volatile.Read(ref _loaded), Volatile.Read(ref _failed), Volatile.Read(ref _skipped), elapsed, [.. _failures]);
            if (_owner._logger.IsEnabled(LogLevel.Information))
            {
                var elapsedMs = elapsed.TotalMilliseconds;
                Log.Finished(_owner._logger, _owner._cache.Name, summary.Loaded, summary.Failed, summary.Skipped, elapsedMs);
            }

            return summary;
        }

        private TimeSpan Elapsed() => _owner._options.TimeProvider.GetElapsedTime(_started);

        /// <summary>Reports progress; a handler that throws is logged and does not stop the warm-up (nor count as a key's failure).</summary>
        private void Report()
        {
            if (_progress is null)
            {
                return;
            }

            try
            {
                _progress.Report(new WarmupProgress(_total, Volatile.Read(ref _loaded), Volatile.Read(ref _failed), Volatile.Read(ref _skipped), Elapsed()));
            }
#pragma warning disable CA1031 // the caller's handler: its failure is logged, the warm-up's counts stay right
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.ProgressFailed(_owner._logger, _owner._cache.Name, e);
            }
        }
    }
}
