using Microsoft.Extensions.Time.Testing;
using TaiCache.Sqlite;
using TaiCache.Tests.Contract;

namespace TaiCache.Tests.Sqlite;

/// <summary>The shared contract, run against <see cref="SqliteTier"/> on a temporary file and a fake clock.</summary>
public sealed class SqliteTierContractTests : TierContractTests, IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly string _path = SqliteTestFiles.NewPath(nameof(SqliteTierContractTests));
    private readonly SqliteTier _cache;

    public SqliteTierContractTests()
    {
        _cache = new SqliteTier(new SqliteTierOptions { FilePath = _path, TimeProvider = _time });
    }

    protected override ICacheOps Cache => _cache;

    [Fact]
    public Task ExpireAsync_ChangesTheExpiryRecordedInTheValue_SoCopiesAreCappedByIt() => AssertExpireUpdatesTheRecordedExpiryAsync();

    protected override Task LetTimePassAsync(TimeSpan ttl)
    {
        _time.Advance(ttl + TimeSpan.FromMilliseconds(1));
        return Task.CompletedTask;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _cache.DisposeAsync();
        SqliteTestFiles.Delete(_path);
    }
}
