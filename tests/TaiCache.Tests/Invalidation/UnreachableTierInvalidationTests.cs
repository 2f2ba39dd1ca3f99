using StackExchange.Redis;
using TaiCache.Invalidation;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Invalidation;

/// <summary>Invalidation with a Redis tier whose endpoint has nothing listening (a free loopback port).</summary>
public sealed class UnreachableTierInvalidationTests : IAsyncLifetime
{
    private IConnectionMultiplexer _connection = null!;
    private RedisCache _dead = null!;
    private InMemoryTier _l1 = null!;

    public async Task InitializeAsync()
    {
        _connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{FreePort.Next()},abortConnect=false,connectRetry=1,connectTimeout=500");
        _dead = new RedisCache(_connection, new RedisCacheOptions { Name = "deadredis", OperationTimeout = TimeSpan.FromMilliseconds(500) });
        _l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1" });
    }

    public async Task DisposeAsync()
    {
        await _dead.DisposeAsync();
        await _connection.DisposeAsync();
        await _l1.DisposeAsync();
    }

    [Fact]
    public async Task InvalidatePatternAsync_UnreachableRedisTier_ReturnsReceiptNamingIt_AndClearsReachableTiers()
    {
        await using var manager = new InvalidationManager([_l1, _dead]);
        _l1.Set("unreach:pat:tracked", "t");
        await manager.TagAsync("unreach:pat:tracked", []);   // tracked by the manager
        _l1.Set("unreach:pat:other", "o");
        await manager.TagAsync("unreach:pat:other", []);
        _l1.Set("unreach:keep", "k");
        await manager.TagAsync("unreach:keep", []);

        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Glob("unreach:pat:*"));

        Assert.False(receipt.Succeeded);
        Assert.Equal(["deadredis"], receipt.FailedTiers);
        Assert.Equal(["unreach:pat:other", "unreach:pat:tracked"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["unreach:pat:other", "unreach:pat:tracked"], receipt.AffectedKeys.Order(StringComparer.Ordinal));
        Assert.False(_l1.TryGet<string>("unreach:pat:tracked", out _));
        Assert.False(_l1.TryGet<string>("unreach:pat:other", out _));
        Assert.True(_l1.TryGet<string>("unreach:keep", out _));
        Assert.Same(receipt, manager.AuditLog.Find(receipt.Id));
    }

    [Fact]
    public async Task InvalidatePatternAsync_UnreachableRedisTier_NoMatchesAnywhere_StillNamesTheTier()
    {
        await using var manager = new InvalidationManager([_l1, _dead]);

        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Glob("unreach:none:*"));

        Assert.Empty(receipt.Keys);
        Assert.Equal(["deadredis"], receipt.FailedTiers);
    }

    [Fact]
    public async Task RaiseEventAsync_PatternTargetOnUnreachableRedisTier_ReturnsReceiptNamingIt()
    {
        await using var manager = new InvalidationManager([_l1, _dead]);
        _l1.Set("unreach:ev:1", "v");
        await manager.TagAsync("unreach:ev:1", []);
        manager.MapEvent("unreach-event", InvalidationTarget.ForPattern(CacheKeyPattern.Glob("unreach:ev:*")));

        var receipt = await manager.RaiseEventAsync("unreach-event");

        Assert.Equal(["deadredis"], receipt.FailedTiers);
        Assert.Equal(["unreach:ev:1"], receipt.AffectedKeys);
        Assert.False(_l1.TryGet<string>("unreach:ev:1", out _));
    }

    [Fact]
    public async Task InvalidatePatternAsync_PatternTheRedisTierRefuses_StillThrows_NotReportedAsTierFailure()
    {
        await using var manager = new InvalidationManager([_l1, _dead]);

        await Assert.ThrowsAsync<ArgumentException>(async () => await manager.InvalidatePatternAsync(CacheKeyPattern.Glob("unreach:bad\u0001*")));
        Assert.Equal(0, manager.AuditLog.Count);
    }

    [Fact]
    public async Task InvalidatePatternAsync_CallerCancelled_StillThrows()
    {
        await using var manager = new InvalidationManager([_l1, _dead]);
        _l1.Set("unreach:cancel:1", "v");
        await manager.TagAsync("unreach:cancel:1", []);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await manager.InvalidatePatternAsync(CacheKeyPattern.Glob("unreach:cancel:*"), cts.Token));
        Assert.True(_l1.TryGet<string>("unreach:cancel:1", out _));
    }
}
