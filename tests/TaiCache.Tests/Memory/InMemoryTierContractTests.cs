using Microsoft.Extensions.Time.Testing;
using TaiCache.Tests.Contract;

namespace TaiCache.Tests.Memory;

/// <summary>The shared contract, run against <see cref="InMemoryTier"/> on a fake clock.</summary>
public sealed class InMemoryTierContractTests : TierContractTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly InMemoryTier _cache;

    public InMemoryTierContractTests()
    {
        _cache = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100_000, TimeProvider = _time });
    }

    protected override ICacheOps Cache => _cache;

    protected override Task LetTimePassAsync(TimeSpan ttl)
    {
        _time.Advance(ttl + TimeSpan.FromMilliseconds(1));
        return Task.CompletedTask;
    }
}
