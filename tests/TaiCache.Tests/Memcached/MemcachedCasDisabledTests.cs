using TaiCache.Memcached;
using Microsoft.Extensions.Time.Testing;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Memcached;

/// <summary>A memcached started with CAS disabled (<c>-C</c>): it answers every CAS token as 0. Own server per class.</summary>
public sealed class MemcachedCasDisabledTests : IClassFixture<MemcachedCasDisabledTests.CasDisabledServer>, IAsyncLifetime
{
    private readonly CasDisabledServer _server;
    private readonly MemcachedCache _cache;

    public MemcachedCasDisabledTests(CasDisabledServer server)
    {
        _server = server;
        _cache = new MemcachedCache(server.Options());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cache.DisposeAsync();

    private static string Key(string test) => $"{nameof(MemcachedCasDisabledTests)}:{test}:{Guid.NewGuid():N}";

    private MemcachedRawClient Raw() => new("127.0.0.1", _server.Port);

    [Fact]
    public async Task GetWithCasAsync_CasDisabled_ThrowsCacheExceptionNamingTheServerOption()
    {
        var key = Key(nameof(GetWithCasAsync_CasDisabled_ThrowsCacheExceptionNamingTheServerOption));
        await _cache.SetAsync(key, "v");

        var ex = await Assert.ThrowsAsync<CacheException>(async () => await _cache.GetWithCasAsync<string>(key));
        Assert.Contains("CAS disabled (memcached -C)", ex.Message, StringComparison.Ordinal);
        Assert.False((await _cache.GetWithCasAsync<string>(Key("missing"))).HasValue);
    }

    [Fact]
    public async Task ExpireAsync_CasDisabled_OnlyTouches_NeverWritesTheValueBack()
    {
        // Without a token the write-back would be a plain set, overwriting whatever another client stored after the read.
        var key = Key(nameof(ExpireAsync_CasDisabled_OnlyTouches_NeverWritesTheValueBack));
        await _cache.SetAsync(key, "v", TimeSpan.FromHours(1));
        using var raw = Raw();
        var before = raw.Get(key)!.Value.Data;

        Assert.True(await _cache.ExpireAsync(key, TimeSpan.FromMinutes(5)));
        Assert.True(await _cache.TouchAsync(key, TimeSpan.FromMinutes(5)));
        Assert.Equal("v", (await _cache.GetAndTouchAsync<string>(key, TimeSpan.FromMinutes(5))).Value);

        Assert.Equal(before, raw.Get(key)!.Value.Data);
        var seconds = int.Parse(raw.Meta($"mg {key} t").Split(' ')[1][1..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 250, 302);
        Assert.Equal("v", (await _cache.GetAsync<string>(key)).Value);
    }

    [Theory]
    [InlineData("touch")]
    [InlineData("expire")]
    [InlineData("get-and-touch")]
    public async Task TouchAsync_CasDisabled_ALittleLongerThanTheRecordHasLeft_Takes(string call)
    {
        // Only touched, a value keeps its old record. A new TTL a second or three longer than the record had left put
        // the server's new seconds where they vouch for that record, so the record decided: the value still ended at
        // its old expiry (10 s here, not 12) although the call returned true (and get-and-touch reported 12 s).
        await TouchesALittleLongerAsync(Key(nameof(TouchAsync_CasDisabled_ALittleLongerThanTheRecordHasLeft_Takes) + call), call, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(12));
    }

    [Theory]
    [InlineData("touch")]
    [InlineData("expire")]
    [InlineData("get-and-touch")]
    public async Task TouchAsync_CasDisabled_OverThirtyDays_ALittleLongerThanTheRecordHasLeft_Takes(string call)
    {
        // As above, with TTLs over 30 days, which memcached takes as a unix time: the exptime was only raised for
        // relative ones, so a 60-day value touched to 60 days and 2 s still ended at its old record, 2 s early.
        await TouchesALittleLongerAsync(Key(nameof(TouchAsync_CasDisabled_OverThirtyDays_ALittleLongerThanTheRecordHasLeft_Takes) + call), call, TimeSpan.FromDays(60), TimeSpan.FromDays(60) + TimeSpan.FromSeconds(2));
    }

    /// <summary>Sets a value for <paramref name="stored"/>, moves its expiry to <paramref name="ttl"/> with the call named, and checks the value then ends when asked.</summary>
    private async Task TouchesALittleLongerAsync(string key, string call, TimeSpan stored, TimeSpan ttl)
    {
        await _cache.SetAsync(key, "v", stored);
        var asked = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + (long)ttl.TotalMilliseconds;
        Assert.True(call switch
        {
            "touch" => await _cache.TouchAsync(key, ttl),
            "expire" => await _cache.ExpireAsync(key, ttl),
            _ => (await _cache.GetAndTouchAsync<string>(key, ttl)).HasValue,
        });

        var hit = await _cache.GetAsync<string>(key);
        Assert.Equal("v", hit.Value);
        Assert.True(hit.ExpiresAtUnixMs >= asked - 500, $"the value ends {asked - hit.ExpiresAtUnixMs} ms before the TTL asked");
        Assert.True(hit.ExpiresAtUnixMs <= asked + 5_000, $"the value lives {hit.ExpiresAtUnixMs - asked} ms past the TTL asked");
    }

    [Fact]
    public async Task AddAsync_CasDisabled_OverValueExpiredByRecord_IsNotStored()
    {
        // The server still holds a value whose recorded expiry has passed; a claim over it needs a token, so none is made.
        var key = Key(nameof(AddAsync_CasDisabled_OverValueExpiredByRecord_IsNotStored));
        var batchKey = Key(nameof(AddAsync_CasDisabled_OverValueExpiredByRecord_IsNotStored) + "-batch");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cache = new MemcachedCache(_server.Options(clock));
        await cache.SetAsync(key, "old", TimeSpan.FromSeconds(1));
        await cache.SetAsync(batchKey, "old", TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(1.5));
        using var raw = Raw();
        var before = raw.Get(key)!.Value.Data;
        var batchBefore = raw.Get(batchKey)!.Value.Data;

        Assert.False(await cache.AddAsync(key, "new", TimeSpan.FromMinutes(1)));
        var stored = await ((IConditionalWriter)cache).AddManyAsync([KeyValuePair.Create(batchKey, "new")], TimeSpan.FromMinutes(1));
        Assert.Equal([false], stored);

        Assert.Equal(before, raw.Get(key)!.Value.Data);
        Assert.Equal(batchBefore, raw.Get(batchKey)!.Value.Data);
    }

    /// <summary>A memcached on a free loopback port with <c>-C</c>, started the way <see cref="MemcachedServerFixture"/> starts its own.</summary>
    public sealed class CasDisabledServer : IAsyncLifetime
    {
        private ServerProcess? _process;

        /// <summary>Gets the server's port.</summary>
        public int Port => _process!.Port;

        /// <summary>Builds options pointing at this server.</summary>
        public MemcachedCacheOptions Options(TimeProvider? clock = null)
        {
            var o = new MemcachedCacheOptions
            {
                TimeProvider = clock ?? TimeProvider.System,
                OperationTimeout = TimeSpan.FromSeconds(5),
                ConnectTimeout = TimeSpan.FromSeconds(5),
                PoolTimeout = TimeSpan.FromSeconds(5),
            };
            o.Servers.Add(new MemcachedServer("127.0.0.1", Port));
            return o;
        }

        /// <inheritdoc />
        public async Task InitializeAsync() => _process = await MemcachedServerFixture.StartMemcachedAsync(FreePort.Next(), "-C");

        /// <inheritdoc />
        public async Task DisposeAsync()
        {
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }
        }
    }
}
