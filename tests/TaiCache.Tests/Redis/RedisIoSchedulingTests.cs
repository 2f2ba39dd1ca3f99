using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>Where a connection the cache opens reads its socket: StackExchange.Redis's dedicated threads by default, the thread pool on request, the caller's own choice kept.</summary>
public sealed class RedisIoSchedulingTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _server;

    public RedisIoSchedulingTests(RedisServerFixture server) => _server = server;

    [Fact]
    public void BuildConfiguration_Default_ReadsOnStackExchangeRedisSharedThreads()
    {
        var configuration = RedisCache.BuildConfiguration(new RedisCacheOptions(), "localhost:6379");

        Assert.Same(SocketManager.Shared, configuration.SocketManager);
    }

    [Fact]
    public void BuildConfiguration_ThreadPool_ReadsOnTheThreadPool()
    {
        var configuration = RedisCache.BuildConfiguration(new RedisCacheOptions { IoScheduling = RedisIoScheduling.ThreadPool }, "localhost:6379");

        Assert.Same(SocketManager.ThreadPool, configuration.SocketManager);
    }

    [Fact]
    public void BuildConfiguration_ConfigurationWithItsOwnSocketManager_KeepsIt()
    {
        using var own = new SocketManager("caller's own");
        var options = new RedisCacheOptions { Configuration = ConfigurationOptions.Parse("localhost:6379") };
        options.Configuration.SocketManager = own;

        var configuration = RedisCache.BuildConfiguration(options, null);

        Assert.Same(own, configuration.SocketManager);
        Assert.Same(own, options.Configuration.SocketManager); // the caller's configuration is not touched either
    }

    [Fact]
    public void Validate_UndefinedScheduling_NamesTheOption()
    {
        var options = new RedisCacheOptions { ConnectionString = "localhost:6379", IoScheduling = (RedisIoScheduling)7 };

        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Equal(nameof(RedisCacheOptions.IoScheduling), error.ParamName);
        Assert.Contains("IoScheduling", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RedisIoScheduling.ThreadPool, RedisIoScheduling.Dedicated)]
    [InlineData(RedisIoScheduling.Dedicated, RedisIoScheduling.ThreadPool)]
    public async Task TwoSchedulings_OnOneServer_ReadWhatTheOtherWrote(RedisIoScheduling writerScheduling, RedisIoScheduling readerScheduling)
    {
        var prefix = RedisTestHelpers.UniquePrefix(nameof(RedisIoSchedulingTests));
        await using var writer = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, prefix, o => o.IoScheduling = writerScheduling);
        await using var reader = await RedisTestHelpers.ConnectAsync(_server.ConnectionString, prefix, o => o.IoScheduling = readerScheduling);
        var items = Enumerable.Range(0, 50).Select(i => KeyValuePair.Create($"k{i}", i * 3)).ToList();

        await writer.SetManyAsync(items, TimeSpan.FromMinutes(5));
        var read = await reader.GetManyAsync<int>(items.Select(i => i.Key));

        Assert.Equal(items.ToDictionary(i => i.Key, i => i.Value), read);
    }
}
