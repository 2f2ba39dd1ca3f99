using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaiCache.Tiering;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>Keeps the README's dependency-injection snippet compiling and working: the body below is the snippet.</summary>
public sealed class ReadmeSnippetTests
{
    [Fact]
    public async Task ReadmeDiSnippet_RunsAsWritten()
    {
        var db = TestConfiguration.TempDatabase();
        IConfiguration configuration = TestConfiguration.FromJson("""{ "TaiCache": { "Caches": { "default": { "Memory": { "MaximumSize": 10000 } } } } }""");
        try
        {
            // --- README snippet starts ---
            var services = new ServiceCollection();
            services.AddTaiCache(configuration)          // binds TaiCache:Caches:default from appsettings.json
                .WithSqlite(db)                          // L1 memory + L3 SQLite
                .AddDistributedCacheAdapter()            // IDistributedCache (session, output caching)
                .AddHybridCacheAdapter();                // HybridCache
            await using var provider = services.BuildServiceProvider();

            var cache = provider.GetRequiredService<MultiTierCache>();
            var user = await cache.GetOrSetAsync("user:42", static ct => ValueTask.FromResult("Ada"));

            var hybrid = provider.GetRequiredService<HybridCache>();
            var price = await hybrid.GetOrCreateAsync("price:7", static ct => ValueTask.FromResult(9.99m), tags: ["prices"]);
            await hybrid.RemoveByTagAsync("prices");
            // --- README snippet ends ---

            Assert.Equal("Ada", user);
            Assert.Equal(9.99m, price);
            Assert.False(await cache.ExistsAsync("price:7"));
            Assert.Equal(2, cache.Tiers.Count);
        }
        finally
        {
            foreach (var suffix in new[] { string.Empty, "-wal", "-shm" })
            {
                File.Delete(db + suffix);
            }
        }
    }
}
