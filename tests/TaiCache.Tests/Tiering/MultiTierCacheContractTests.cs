using TaiCache.Tiering;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Tests.Contract;

namespace TaiCache.Tests.Tiering;

/// <summary>The shared contract, run against a write-through <see cref="MultiTierCache"/> (memory L1 over a second tier) on a fake clock.</summary>
public sealed class MultiTierCacheContractTests : CacheOpsContractTests, IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly MultiTierCache _cache;

    public MultiTierCacheContractTests()
    {
        var options = new MultiTierCacheOptions { TimeProvider = _time };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 100_000, TimeProvider = _time }));
        options.Tiers.Add(new FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "L2", MaximumSize = 100_000, TimeProvider = _time })));
        _cache = new MultiTierCache(options);
    }

    protected override ICacheOps Cache => _cache;

    protected override Task LetTimePassAsync(TimeSpan ttl)
    {
        _time.Advance(ttl + TimeSpan.FromMilliseconds(1));
        return Task.CompletedTask;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();
}

/// <summary>The shared contract, run against a write-behind <see cref="MultiTierCache"/> on a fake clock.</summary>
public sealed class MultiTierCacheWriteBehindContractTests : CacheOpsContractTests, IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly MultiTierCache _cache;

    public MultiTierCacheWriteBehindContractTests()
    {
        var options = new MultiTierCacheOptions { TimeProvider = _time, WriteStrategy = WriteStrategy.WriteBehind };
        options.Tiers.Add(new InMemoryTier(new InMemoryTierOptions { Name = "L1", MaximumSize = 100_000, TimeProvider = _time }));
        options.Tiers.Add(new FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "L2", MaximumSize = 100_000, TimeProvider = _time })));
        _cache = new MultiTierCache(options);
    }

    protected override ICacheOps Cache => _cache;

    protected override async Task LetTimePassAsync(TimeSpan ttl)
    {
        await _cache.FlushAsync(TimeSpan.FromSeconds(30));
        _time.Advance(ttl + TimeSpan.FromMilliseconds(1));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();
}
