using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Redis;

namespace TaiCache.Benchmarks.Redis;

/// <summary>
/// RedisCache against hand-written StackExchange.Redis + MessagePack (the baseline) on a local redis-server started for
/// the run (or TAICACHE_REDIS). Same value, same connection settings; what differs is TaiCache's key checks, envelope,
/// prefix and error mapping.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RedisBenchmarks
{
    private static readonly MessagePackSerializerOptions RawOptions =
        ContractlessStandardResolver.Options.WithSecurity(MessagePackSecurity.UntrustedData);

    private Process? _server;
    private ConnectionMultiplexer _raw = null!;
    private IDatabase _db = null!;
    private RedisCache _cache = null!;
    private RedisKey[] _rawKeys = null!;
    private string[] _cacheKeys = null!;
    private readonly Product _value = new() { Id = 42, Name = "Widget", Price = 9.99m, Tags = ["a", "b"] };

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var connection = Environment.GetEnvironmentVariable("TAICACHE_REDIS");
        if (string.IsNullOrWhiteSpace(connection))
        {
            var port = FreePort();
            _server = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode no")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("redis-server did not start");
            await WaitForPortAsync(port);
            connection = $"127.0.0.1:{port}";
        }

        _raw = await ConnectionMultiplexer.ConnectAsync(connection);
        _db = _raw.GetDatabase();
        _cache = await RedisCache.ConnectAsync(connection, new RedisCacheOptions { KeyPrefix = "bench:tc:" });

        _rawKeys = Enumerable.Range(0, 100).Select(i => (RedisKey)$"bench:raw:{i}").ToArray();
        _cacheKeys = Enumerable.Range(0, 100).Select(i => $"item:{i}").ToArray();
        var bytes = MessagePackSerializer.Serialize(_value, RawOptions);
        foreach (var key in _rawKeys)
        {
            await _db.StringSetAsync(key, bytes);
        }

        await _cache.SetManyAsync(_cacheKeys.Select(k => KeyValuePair.Create(k, _value)));
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _cache.DisposeAsync();
        await _raw.DisposeAsync();
        if (_server is { HasExited: false })
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }

        _server?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "raw SE.Redis + MessagePack")]
    [BenchmarkCategory("Get")]
    public async Task<Product?> Raw_Get()
    {
        var value = await _db.StringGetAsync(_rawKeys[0]);
        return MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)value, RawOptions);
    }

    [Benchmark(Description = "RedisCache")]
    [BenchmarkCategory("Get")]
    public async Task<Product?> TaiCache_Get() => (await _cache.GetAsync<Product>(_cacheKeys[0])).Value;

    [Benchmark(Baseline = true, Description = "raw SE.Redis + MessagePack")]
    [BenchmarkCategory("Set")]
    public Task<bool> Raw_Set() => _db.StringSetAsync(_rawKeys[1], MessagePackSerializer.Serialize(_value, RawOptions), TimeSpan.FromMinutes(5), When.Always);

    [Benchmark(Description = "RedisCache")]
    [BenchmarkCategory("Set")]
    public ValueTask TaiCache_Set() => _cache.SetAsync(_cacheKeys[1], _value, TimeSpan.FromMinutes(5));

    [Benchmark(Baseline = true, Description = "raw SE.Redis + MessagePack")]
    [BenchmarkCategory("GetMany(100)")]
    public async Task<int> Raw_GetMany()
    {
        var values = await _db.StringGetAsync(_rawKeys);
        var result = new Dictionary<string, Product>(values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            result[_rawKeys[i]!] = MessagePackSerializer.Deserialize<Product>((ReadOnlyMemory<byte>)values[i], RawOptions);
        }

        return result.Count;
    }

    [Benchmark(Description = "RedisCache")]
    [BenchmarkCategory("GetMany(100)")]
    public async Task<int> TaiCache_GetMany() => (await _cache.GetManyAsync<Product>(_cacheKeys)).Count;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A small product record, the cached value.</summary>
    public sealed class Product
    {
        public int Id { get; set; }

        public string Name { get; set; } = string.Empty;

        public decimal Price { get; set; }

        public List<string> Tags { get; set; } = [];
    }
}
