using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using TaiCache.Memcached;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;
using TaiCache.Tiering.Warming;

namespace TaiCache.Tests.Tiering.Warming;

/// <summary>Edge cases of <see cref="CacheWarmer"/>: cancellation reported another way, progress under concurrency, stream batches.</summary>
public sealed class CacheWarmerEdgeCaseTests : IAsyncLifetime
{
    private readonly InMemoryTier _memory = new(new InMemoryTierOptions { MaximumSize = 100_000 });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _memory.DisposeAsync();

    /// <summary>
    /// The docs: "Cancelling the token throws OperationCanceledException". A loader that observes the cancellation and
    /// reports it with its own exception type (SqlClient's SqlException "Operation cancelled by user", gRPC's
    /// RpcException(Cancelled), ...) or a key that simply fails at that moment makes WarmAsync throw that exception.
    /// </summary>
    [Fact]
    public async Task Warm_KeyList_CancelledWhileALoaderFails_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        var keys = Keys(20);
        var warmer = new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 1 });
        var thrown = await Record.ExceptionAsync(() => warmer.WarmAsync(keys, async (k, ct) =>
        {
            await Task.Yield();
            if (k == keys[3])
            {
                await cts.CancelAsync();
                throw new InvalidOperationException("the database client reports the cancellation its own way");
            }

            return k;
        }, cancellationToken: cts.Token));
        Assert.IsAssignableFrom<OperationCanceledException>(thrown);
    }

    /// <summary>Same for a stream whose batch write fails while the caller cancels.</summary>
    [Fact]
    public async Task Warm_Stream_CancelledWhileABatchFails_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        var keys = Keys(10);
        var warmer = new CacheWarmer(new CancellingTier(_memory, cts), new CacheWarmerOptions { MaxConcurrency = 1, BatchSize = 5 });
        var thrown = await Record.ExceptionAsync(() => warmer.WarmAsync(Stream(keys), cancellationToken: cts.Token));
        Assert.IsAssignableFrom<OperationCanceledException>(thrown);
    }

    /// <summary>The report with the most keys done equals the summary, under concurrency, and the counts add up.</summary>
    [Fact]
    public async Task Warm_KeyList_ConcurrentProgress_FinalReportEqualsSummary_CountsAddUp()
    {
        var keys = Keys(300);
        var reports = new ConcurrentQueue<WarmupProgress>();
        _memory.Set(keys[0], "there");
        var summary = await new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 8, SkipExisting = true, MaxRecordedFailures = 5 })
            .WarmAsync(keys.Concat(keys.Take(10)), async (k, _) =>
            {
                await Task.Yield();
                return k.EndsWith('7') ? throw new InvalidOperationException("no") : k;
            }, new SyncProgress(reports.Enqueue));
        Assert.Equal(300, summary.Total);
        Assert.Equal(1, summary.Skipped);
        Assert.Equal(30, summary.Failed);
        Assert.Equal(5, summary.Failures.Count);
        Assert.Equal(300, reports.Count);
        var last = reports.MaxBy(r => r.Completed);
        Assert.Equal((summary.Loaded, summary.Failed, summary.Skipped, 300), (last.Loaded, last.Failed, last.Skipped, last.Total!.Value));
    }

    /// <summary>A progress handler that throws does not stop the warm-up, and no key is counted both loaded and failed.</summary>
    [Fact]
    public async Task Warm_KeyList_ProgressHandlerThrows_WarmUpGoesOn_CountsStayRight()
    {
        var keys = Keys(20);
        var summary = await new CacheWarmer(_memory, new CacheWarmerOptions { MaxConcurrency = 2 })
            .WarmAsync(keys, (k, _) => ValueTask.FromResult(k), new SyncProgress(_ => throw new InvalidOperationException("the handler's bug")));

        Assert.Equal((20, 0, 0), (summary.Loaded, summary.Failed, summary.Skipped));
        Assert.All(keys, k => Assert.True(_memory.TryGet<string>(k, out _)));
    }

    /// <summary>A key that comes twice in one stream batch is counted twice and the later value is kept.</summary>
    [Fact]
    public async Task Warm_Stream_DuplicateKeyInOneBatch_LaterValueKept()
    {
        var key = Keys(1)[0];
        var summary = await new CacheWarmer(_memory).WarmAsync(Pairs([KeyValuePair.Create(key, "first"), KeyValuePair.Create(key, "second")]));
        Assert.Equal(2, summary.Loaded);
        Assert.True(_memory.TryGet<string>(key, out var value));
        Assert.Equal("second", value);
    }

    /// <summary>A source that throws mid-stream surfaces its exception; the batches before it are stored.</summary>
    [Fact]
    public async Task Warm_Stream_SourceThrowsMidStream_ExceptionSurfaces_EarlierBatchesStored()
    {
        var keys = Keys(10);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => new CacheWarmer(_memory, new CacheWarmerOptions { BatchSize = 5, MaxConcurrency = 1 })
            .WarmAsync(Failing(keys, failAfter: 7)));
        Assert.Equal("source broke", ex.Message);
        Assert.All(keys.Take(5), k => Assert.True(_memory.TryGet<string>(k, out _)));
    }

    /// <summary>A large BatchSize ("one batch for everything") works: batch lists are not sized up front to it.</summary>
    [Fact]
    public async Task Warm_Stream_LargeBatchSize_StoresThePairs()
    {
        var keys = Keys(3);
        var thrown = await Record.ExceptionAsync(async () =>
        {
            var summary = await new CacheWarmer(_memory, new CacheWarmerOptions { BatchSize = int.MaxValue }).WarmAsync(Stream(keys));
            Assert.Equal(3, summary.Loaded);
        });
        Assert.Null(thrown);
        Assert.All(keys, k => Assert.True(_memory.TryGet<string>(k, out _)));
    }

    internal static List<string> Keys(int count, [CallerMemberName] string test = "")
    {
        var prefix = $"{nameof(CacheWarmerEdgeCaseTests)}:{test}:{Guid.NewGuid():N}";
        return Enumerable.Range(0, count).Select(i => $"{prefix}:{i}").ToList();
    }

    internal static async IAsyncEnumerable<KeyValuePair<string, string>> Stream(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            await Task.Yield();
            yield return KeyValuePair.Create(key, key);
        }
    }

    internal static async IAsyncEnumerable<KeyValuePair<string, string>> Pairs(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        foreach (var pair in pairs)
        {
            await Task.Yield();
            yield return pair;
        }
    }

    private static async IAsyncEnumerable<KeyValuePair<string, string>> Failing(IEnumerable<string> keys, int failAfter)
    {
        var n = 0;
        foreach (var key in keys)
        {
            await Task.Yield();
            if (n++ == failAfter)
            {
                throw new InvalidOperationException("source broke");
            }

            yield return KeyValuePair.Create(key, key);
        }
    }

    internal sealed class SyncProgress(Action<WarmupProgress> report) : IProgress<WarmupProgress>
    {
        public void Report(WarmupProgress value) => report(value);
    }

    /// <summary>A tier whose first batch write cancels the caller's token and fails as its client reports it.</summary>
    private sealed class CancellingTier(ICacheOps inner, CancellationTokenSource cts) : ICacheOps
    {
        public string Name => inner.Name;

        public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) => inner.GetAsync<T>(key, cancellationToken);

        public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => inner.SetAsync(key, value, ttl, cancellationToken);

        public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

        public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => inner.ExistsAsync(key, cancellationToken);

        public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) => inner.ExpireAsync(key, ttl, cancellationToken);

        public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.GetManyAsync<T>(keys, cancellationToken);

        public async ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
        {
            await cts.CancelAsync();
            throw new CacheConnectionException("the client reports the cancellation as a connection error");
        }

        public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.DeleteManyAsync(keys, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
