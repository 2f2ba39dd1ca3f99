using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Invalidation;

namespace TaiCache.Tests.Invalidation;

public sealed class InvalidationAuditLogTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task AuditLog_IsBounded_NewestFirst()
    {
        var log = new InvalidationAuditLog(new InvalidationAuditLogOptions { Capacity = 3 });
        await using var tier = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { AuditLog = log, TimeProvider = _time });

        for (var i = 0; i < 5; i++)
        {
            await manager.InvalidateAsync($"bounded:{i}");
        }

        Assert.Equal(3, log.Count);
        Assert.Equal(5, log.TotalRecorded);
        Assert.Equal(["bounded:4", "bounded:3", "bounded:2"], log.GetRecent().Select(r => r.TriggerValue));
        Assert.Empty(log.FindByKey("bounded:0"));
    }

    [Fact]
    public async Task AuditLog_BoundedByRetainedKeys_DropsOldestFanOutsFirst()
    {
        var log = new InvalidationAuditLog(new InvalidationAuditLogOptions { Capacity = 100, MaxRetainedKeys = 25 });
        await using var tier = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { AuditLog = log, TimeProvider = _time });
        for (var i = 0; i < 9; i++)
        {
            await manager.AddDependencyAsync($"wide:{i}", "wide:root");
        }

        await manager.InvalidateAsync("wide:root");   // 10 keys
        await manager.InvalidateAsync("wide:root");   // 10 keys
        await manager.InvalidateAsync("wide:root");   // 10 keys: 30 > 25, the oldest goes

        Assert.Equal(2, log.Count);
        Assert.Equal(3, log.TotalRecorded);
        Assert.True(log.GetRecent().Sum(r => r.Keys.Count) <= 25);
    }

    [Fact]
    public async Task AuditLog_Queries_ByKeyTimeAndTrigger()
    {
        await using var tier = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.AddDependencyAsync("q:dep", "q:root");
        var t0 = _time.GetUtcNow();
        var first = await manager.InvalidateAsync("q:root");
        _time.Advance(TimeSpan.FromMinutes(5));
        await manager.SetAsync("q:tagged", 1, tags: ["q-tag"]);
        var second = await manager.InvalidateTagAsync("q-tag");
        _time.Advance(TimeSpan.FromMinutes(5));
        var third = await manager.InvalidateAsync("q:other", InvalidationStrategy.Lazy);

        Assert.Same(first, Assert.Single(manager.AuditLog.FindByKey("q:dep")));
        Assert.Same(second, Assert.Single(manager.AuditLog.FindByTrigger(InvalidationTrigger.Tag)));
        Assert.Same(second, Assert.Single(manager.AuditLog.FindByTrigger(InvalidationTrigger.Tag, "q-tag")));
        Assert.Empty(manager.AuditLog.FindByTrigger(InvalidationTrigger.Tag, "other"));
        Assert.Equal([second, first], manager.AuditLog.FindByTime(t0, t0.AddMinutes(6)));
        Assert.Same(third, manager.AuditLog.Find(third.Id));
        Assert.Same(third, Assert.Single(manager.AuditLog.Query(r => r.Strategy == InvalidationStrategy.Lazy)));
        Assert.True(first.Id.CompareTo(third.Id) < 0, "receipt ids are time ordered");
    }

    [Fact]
    public async Task LoggerSink_WritesReceipt_WithKeysHashed()
    {
        var collector = new FakeLogCollector();
        var logger = new FakeLogger(collector);
        var log = new InvalidationAuditLog(new InvalidationAuditLogOptions { Sinks = { new LoggerInvalidationAuditSink(logger) } });
        await using var tier = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { AuditLog = log, TimeProvider = _time });
        await manager.AddDependencyAsync("secret:alice@example.com:orders", "secret:alice@example.com");

        var receipt = await manager.InvalidateAsync("secret:alice@example.com");

        var entry = Assert.Single(collector.GetSnapshot());
        Assert.Equal(6010, entry.Id.Id);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Contains(receipt.Id.ToString(), entry.Message);
        Assert.Contains(TaiCacheDiagnostics.DescribeKey("secret:alice@example.com:orders"), entry.Message);
        Assert.DoesNotContain("alice@example.com", entry.Message);
        Assert.Contains("2 key(s)", entry.Message);
    }

    [Fact]
    public async Task FailingSink_DoesNotFailTheInvalidation()
    {
        var log = new InvalidationAuditLog(new InvalidationAuditLogOptions { Sinks = { new FailingSink() } });
        await using var tier = new InMemoryTier(new InMemoryTierOptions { TimeProvider = _time });
        await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { AuditLog = log, TimeProvider = _time });
        tier.Set("sink:1", 1);

        var receipt = await manager.InvalidateAsync("sink:1");

        Assert.Equal(["sink:1"], receipt.AffectedKeys);
        Assert.Equal(1, log.Count);
    }

    [Fact]
    public void Options_Invalid_NameTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new InvalidationAuditLog(new InvalidationAuditLogOptions { Capacity = 0 }));
        Assert.Contains("InvalidationAuditLogOptions.Capacity", ex.Message);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => new InvalidationManagerOptions { MaxCascadeDepth = -1 }.Validate());
        Assert.Contains("MaxCascadeDepth", ex2.Message);
    }

    private sealed class FailingSink : IInvalidationAuditSink
    {
        public ValueTask WriteAsync(InvalidationReceipt receipt, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new InvalidOperationException("sink down"));
    }
}
