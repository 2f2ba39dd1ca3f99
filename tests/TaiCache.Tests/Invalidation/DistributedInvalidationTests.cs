using StackExchange.Redis;
using TaiCache.Invalidation;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Invalidation;

/// <summary>Two managers (two "instances", each with its own L1) sharing a Redis tier, and a dependency graph and tags in Redis sets.</summary>
public sealed class DistributedInvalidationTests : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly RedisServerFixture _redis;
    private readonly string _prefix = $"{nameof(DistributedInvalidationTests)}:{Guid.NewGuid():N}:";
    private ConnectionMultiplexer _connectionA = null!;
    private ConnectionMultiplexer _connectionB = null!;
    private InMemoryTier _l1A = null!;
    private InMemoryTier _l1B = null!;
    private RedisCache _shared = null!;
    private RedisCache _sharedSeenByB = null!;
    private InvalidationManager _a = null!;
    private InvalidationManager _b = null!;

    public DistributedInvalidationTests(RedisServerFixture redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        _connectionA = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        _connectionB = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        _l1A = new InMemoryTier(new InMemoryTierOptions { Name = "l1-a" });
        _l1B = new InMemoryTier(new InMemoryTierOptions { Name = "l1-b" });
        _shared = new RedisCache(_connectionA, new RedisCacheOptions { KeyPrefix = _prefix + "data:" });
        _sharedSeenByB = new RedisCache(_connectionB, new RedisCacheOptions { KeyPrefix = _prefix + "data:" });
        _a = new InvalidationManager([_l1A, _shared], new InvalidationManagerOptions { Redis = _connectionA, RedisKeyPrefix = _prefix, InstanceId = "A" });
        _b = new InvalidationManager([_l1B, _sharedSeenByB], new InvalidationManagerOptions { Redis = _connectionB, RedisKeyPrefix = _prefix, InstanceId = "B" });
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        var server = _connectionA.GetServers()[0];
        var db = _connectionA.GetDatabase();
        await foreach (var key in server.KeysAsync(pattern: CacheKeyPattern.EscapeGlob(_prefix) + "*"))
        {
            await db.KeyDeleteAsync(key);
        }

        await _shared.DisposeAsync();
        await _sharedSeenByB.DisposeAsync();
        await _connectionA.DisposeAsync();
        await _connectionB.DisposeAsync();
    }

    [Fact]
    public async Task Tags_InRedis_EndWithTheirValuesTtl_SetExpiresAndExpiredMembersAreDropped()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var prefix = _prefix + "ttl:";
        await using var manager = new InvalidationManager([_l1A, _shared], new InvalidationManagerOptions { Redis = _connectionA, RedisKeyPrefix = prefix, InstanceId = "T", TimeProvider = time });
        var db = _connectionA.GetDatabase();
        for (var i = 0; i < 50; i++)
        {
            await manager.TagAsync($"short:{i}", ["promo"], TimeSpan.FromMinutes(1));
        }

        // The set lives as long as its longest member, by the writer's clock (a fake one here, far from the server's).
        Assert.InRange((long)await db.ExecuteAsync("PTTL", prefix + "tz:promo"), 59_000, 60_000);

        time.Advance(TimeSpan.FromMinutes(2));
        await manager.TagAsync("long", ["promo"], TimeSpan.FromMinutes(10));
        Assert.Equal(1, await db.SortedSetLengthAsync(prefix + "tz:promo"));
        Assert.Equal(["long"], await manager.GetTaggedKeysAsync("promo"));
        Assert.InRange((long)await db.ExecuteAsync("PTTL", prefix + "tz:promo"), 599_000, 600_000);

        // A membership without a TTL keeps the set for good.
        await manager.TagAsync("forever", ["promo"]);
        Assert.Equal(-1, (long)await db.ExecuteAsync("PTTL", prefix + "tz:promo"));
    }

    [Fact]
    public async Task Cascade_StartedOnA_ReachesThreeLevelsRegisteredByB()
    {
        await _b.SetAsync("product:1", "p");
        await _b.SetAsync("category:7", "c");
        await _b.SetAsync("page:home", "h");
        await _b.AddDependencyAsync("category:7", "product:1");
        await _b.AddDependencyAsync("page:home", "category:7");

        var receipt = await _a.InvalidateAsync("product:1");

        Assert.Equal(["product:1", "category:7", "page:home"], receipt.Keys.Select(k => k.Key));
        Assert.Equal(["product:1", "category:7", "page:home"], receipt.Find("page:home")!.Path);
        Assert.Equal("A", receipt.OriginInstance);
        Assert.False(await _shared.ExistsAsync("page:home"), "the shared tier lost the dependent B registered");
        Assert.Equal(1, receipt.Find("page:home")!.TiersAffected);
    }

    [Fact]
    public async Task Cascade_DiamondAndCycleAcrossInstances_TerminatesAndReports()
    {
        await _a.AddDependencyAsync("left", "root");
        await _b.AddDependencyAsync("right", "root");
        await _a.AddDependencyAsync("bottom", "left");
        await _b.AddDependencyAsync("bottom", "right");
        await _b.AddDependencyAsync("root", "bottom");

        var receipt = await _a.InvalidateAsync("root");

        Assert.Equal(4, receipt.Keys.Count);
        Assert.Equal(4, receipt.Keys.Select(k => k.Key).Distinct().Count());
        Assert.NotEmpty(receipt.Cycles);
        Assert.All(receipt.Cycles, c => Assert.Equal(c[0], c[^1]));
    }

    [Fact]
    public async Task InvalidateTagAsync_InRedis_MembershipWhoseTtlEnded_IsLeftOut()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var prefix = _prefix + "ended:";
        await using var manager = new InvalidationManager([_l1A, _shared], new InvalidationManagerOptions { Redis = _connectionA, RedisKeyPrefix = prefix, InstanceId = "E", TimeProvider = time });
        await manager.TagAsync("short", ["g"], TimeSpan.FromMinutes(1));
        await manager.TagAsync("long", ["g"], TimeSpan.FromMinutes(10));
        await manager.AddDependencyAsync("short:dependent", "short");
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(["long"], await manager.GetTaggedKeysAsync("g"));

        var receipt = await manager.InvalidateTagAsync("g");

        Assert.Equal(["long"], receipt.Keys.Select(k => k.Key));
        Assert.Empty(await manager.GetTaggedKeysAsync("g"));
        Assert.False(await _connectionA.GetDatabase().KeyExistsAsync(prefix + "tz:g"));
    }

    [Fact]
    public async Task Tags_SetOnB_InvalidatedFromA()
    {
        await _b.SetAsync("tagged:1", 1, tags: ["sale"]);
        await _b.SetAsync("tagged:2", 2, tags: ["sale"]);
        Assert.Equal(2, (await _a.GetTaggedKeysAsync("sale")).Count);

        var receipt = await _a.InvalidateTagAsync("sale");

        Assert.Equal(["tagged:1", "tagged:2"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.False(await _shared.ExistsAsync("tagged:1"));
        Assert.Empty(await _b.GetTaggedKeysAsync("sale"));
    }

    [Fact]
    public async Task RemoveDependency_OnOneInstance_IsSeenByTheOther()
    {
        await _a.AddDependencyAsync("rm:dep", "rm:root");
        Assert.Single((await _b.GetDependentsAsync("rm:root")).Dependents);

        Assert.True(await _b.RemoveDependencyAsync("rm:dep", "rm:root"));

        Assert.Empty((await _a.GetDependentsAsync("rm:root")).Dependents);
    }

    [Fact]
    public async Task AddDependency_WhoseSecondSetFails_LeavesNoEdgeThatCascades()
    {
        // The dependent's backward set is taken by a string, so Redis refuses the SADD (WRONGTYPE).
        await _connectionA.GetDatabase().StringSetAsync(_prefix + "D:half:dep", "not a set");

        await Assert.ThrowsAnyAsync<RedisException>(() => _a.AddDependencyAsync("half:dep", "half:root").AsTask());

        // No forward edge was written: a cascade from the root reaches nothing, as the caller was told.
        Assert.Empty((await _b.GetDependentsAsync("half:root")).Dependents);
    }

    [Fact]
    public async Task WideFanOut_OneLevelOfPipelinedReads_ReachesAll()
    {
        for (var i = 0; i < 2_000; i++)
        {
            await _b.AddDependencyAsync($"fan:{i}", "fan:root");
        }

        var receipt = await _a.InvalidateAsync("fan:root");

        Assert.Equal(2_001, receipt.Keys.Count);
    }

    [Fact]
    public async Task RedisStreamSink_AppendsReceipts()
    {
        var stream = _prefix + "audit";
        var log = new InvalidationAuditLog(new InvalidationAuditLogOptions { Sinks = { new RedisStreamInvalidationAuditSink(_connectionA, stream) } });
        await using var manager = new InvalidationManager([_l1A], new InvalidationManagerOptions { AuditLog = log, Redis = _connectionA, RedisKeyPrefix = _prefix, InstanceId = "A" });
        await manager.AddDependencyAsync("stream:dep", "stream:user@example.com");

        var receipt = await manager.InvalidateAsync("stream:user@example.com");

        var entries = await _connectionA.GetDatabase().StreamRangeAsync(stream);
        var entry = Assert.Single(entries);
        var fields = entry.Values.ToDictionary(v => v.Name.ToString(), v => v.Value.ToString());
        Assert.Equal(receipt.Id.ToString("D"), fields["id"]);
        Assert.Equal("Key", fields["trigger"]);
        Assert.Equal("A", fields["origin"]);
        Assert.Equal("2", fields["count"]);
        Assert.DoesNotContain("user@example.com", string.Join(" ", fields.Values));
    }

    [Fact]
    public async Task RedisStreamSink_AnInvalidationATierFailed_TheEntryNamesTheFailedTier()
    {
        var stream = $"{_prefix}audit-failed";
        await using var deadConnection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{FreePort.Next()},abortConnect=false,connectRetry=1,connectTimeout=500");
        await using var dead = new RedisCache(deadConnection, new RedisCacheOptions { Name = "deadredis", OperationTimeout = TimeSpan.FromMilliseconds(500) });
        var log = new InvalidationAuditLog(new InvalidationAuditLogOptions { Sinks = { new RedisStreamInvalidationAuditSink(_connectionA, stream) } });
        await using var manager = new InvalidationManager([_l1A, dead], new InvalidationManagerOptions { AuditLog = log, InstanceId = "A" });

        var receipt = await manager.InvalidateAsync("stream:failed");

        Assert.Equal(["deadredis"], receipt.FailedTiers);
        var entry = Assert.Single(await _connectionA.GetDatabase().StreamRangeAsync(stream));
        var fields = entry.Values.ToDictionary(v => v.Name.ToString(), v => v.Value.ToString());
        Assert.Equal("deadredis", fields["failed_tiers"]); // a failed invalidation does not read as a successful one
        Assert.Equal(string.Empty, fields["cleared_tiers"]);
    }
}
