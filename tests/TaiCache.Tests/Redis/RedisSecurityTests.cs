using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Redis;

/// <summary>Secrets stay out of messages and logs; a minimal ACL user is enough; TLS with a self-signed certificate works.</summary>
public sealed class RedisSecurityTests
{
    private const string Password = "s3cr3t-P4ss-do-not-print";
    private const string EmailKey = "alice@example.com";

    [Fact]
    public async Task WrongPassword_NeitherPasswordNorKeyAppearInExceptionsOrLogs()
    {
        var port = FreePort.Next();
        await using var server = await RedisServerFixture.StartRedisAsync(port, "--requirepass", Password + "-real");
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)));

        var wrong = $"127.0.0.1:{port},password={Password}";
        await using var cache = await RedisCache.ConnectAsync(wrong, new RedisCacheOptions { OperationTimeout = TimeSpan.FromSeconds(1), LoggerFactory = loggerFactory });
        var ex = await Assert.ThrowsAsync<CacheConnectionException>(async () => await cache.GetAsync<string>(EmailKey));

        Assert.Equal(EmailKey, ex.Key);
        AssertClean(ex.ToString());
        var logs = collector.GetSnapshot();
        Assert.NotEmpty(logs);
        Assert.All(logs, r => AssertClean(r.Message + r.Exception));

        var fromOptions = new RedisCache(new RedisCacheOptions { ConnectionString = wrong, OperationTimeout = TimeSpan.FromSeconds(1), LoggerFactory = loggerFactory });
        await using (fromOptions)
        {
            var ex2 = await Assert.ThrowsAsync<CacheConnectionException>(async () => await fromOptions.SetAsync(EmailKey, "v"));
            AssertClean(ex2.ToString());
        }

        // A connection string that cannot be parsed is not echoed either.
        var parse = Assert.Throws<ArgumentException>(() => new RedisCache(new RedisCacheOptions { ConnectionString = $"127.0.0.1:{port},password={Password},nonsense-option=1" }));
        AssertClean(parse.ToString());
    }

    [Fact]
    public async Task RightPassword_ForcedFailuresOnAnEmailKey_KeepItOutOfMessagesAndLogs()
    {
        var port = FreePort.Next();
        await using var server = await RedisServerFixture.StartRedisAsync(port, "--requirepass", Password);
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)));
        await using var cache = await RedisCache.ConnectAsync($"127.0.0.1:{port},password={Password}", new RedisCacheOptions { LoggerFactory = loggerFactory });

        await cache.ListRightPushAsync(EmailKey, 1);
        var wrongType = await Assert.ThrowsAsync<CacheWrongTypeException>(async () => await cache.GetAsync<int>(EmailKey));
        await cache.DeleteAsync(EmailKey);
        await cache.Multiplexer.GetDatabase().StringSetAsync(EmailKey, new byte[] { 1, 2, 3 });
        var garbage = await Assert.ThrowsAsync<CacheSerializationException>(async () => await cache.GetAsync<int>(EmailKey));

        AssertClean(wrongType.ToString());
        AssertClean(garbage.ToString());
        Assert.Contains(collector.GetSnapshot(), r => r.Id.Id == 1012);
        Assert.All(collector.GetSnapshot(), r => AssertClean(r.Message + r.Exception));
    }

    [Fact]
    public async Task MinimalAclUser_RunsEveryTaiCacheOperation_AndNothingElse()
    {
        var port = FreePort.Next();
        await using var server = await RedisServerFixture.StartRedisAsync(port);
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},allowAdmin=true");
        await CreateAclUserAsync(admin, MinimalAcl);

        await using var cache = await RedisCache.ConnectAsync($"127.0.0.1:{port},user=taicache,password=acl-pass", new RedisCacheOptions { KeyPrefix = "app:", OperationTimeout = TimeSpan.FromSeconds(2) });
        Assert.True(cache.IsConnected);

        await cache.SetAsync("k", "v", TimeSpan.FromMinutes(1));
        Assert.Equal("v", (await cache.GetAsync<string>("k")).Value);
        Assert.True(await cache.ExistsAsync("k"));
        Assert.True(await cache.ExpireAsync("k", TimeSpan.FromMinutes(2)));
        Assert.True((await cache.TtlAsync("k")).HasValue);
        Assert.NotNull(await cache.MemoryUsageAsync("k"));
        await cache.SetManyAsync([KeyValuePair.Create("a", 1), KeyValuePair.Create("b", 2)]);
        Assert.Equal(2, (await cache.GetManyAsync<int>(["a", "b"])).Count);
        Assert.Equal(["a", "b", "k"], await RedisTestHelpers.ToListAsync(cache.KeysAsync()));
        Assert.Equal(2, await cache.DeleteManyAsync(["a", "b"]));
        Assert.True(await cache.DeleteAsync("k"));
        await cache.ListRightPushAsync("l", 1);
        await cache.ListLeftPushAsync("l", 0);
        Assert.Equal([0, 1], await cache.ListRangeAsync<int>("l"));
        Assert.Equal(2, await cache.ListLengthAsync("l"));
        Assert.Equal(0, (await cache.ListLeftPopAsync<int>("l")).Value);
        Assert.Equal(1, (await cache.ListRightPopAsync<int>("l")).Value);
        await cache.HashSetAsync("h", "f", 1);
        await cache.HashSetAsync("h", [KeyValuePair.Create("g", 2)]);
        Assert.Equal(1, (await cache.HashGetAsync<int>("h", "f")).Value);
        Assert.Equal(2, (await cache.HashGetAllAsync<int>("h")).Count);
        Assert.True(await cache.HashExistsAsync("h", "f"));
        Assert.True(await cache.HashDeleteAsync("h", "f"));
        await cache.SetAddAsync("s", 1);
        Assert.True(await cache.SetContainsAsync("s", 1));
        Assert.Single(await cache.SetMembersAsync<int>("s"));
        Assert.Equal(1, await cache.SetLengthAsync("s"));
        Assert.True(await cache.SetRemoveAsync("s", 1));
        await cache.SortedSetAddAsync("z", "m", 1);
        Assert.Equal(1, await cache.SortedSetScoreAsync("z", "m"));
        Assert.Single(await cache.SortedSetRangeAsync<string>("z"));
        Assert.Single(await cache.SortedSetRangeDescendingAsync<string>("z"));
        Assert.Equal(1, await cache.SortedSetLengthAsync("z"));
        Assert.True(await cache.SortedSetRemoveAsync("z", "m"));
        Assert.Equal(3, await cache.IncrementAsync("c", 3));
        Assert.Equal(2, await cache.DecrementAsync("c"));
        Assert.Equal(2, (await cache.GetCounterAsync("c")).Value);
        Assert.Single(await cache.InfoAsync());
        Assert.Equal(1, (await cache.GetStatisticsAsync()).Primaries);
        await using (var fromServer = await RedisCache.ConnectAsync($"127.0.0.1:{port},user=taicache,password=acl-pass", new RedisCacheOptions { KeyPrefix = "app:", ReadTtlFromServer = true }))
        {
            Assert.Equal(2, (await fromServer.GetCounterAsync("c")).Value);
            await fromServer.SetAsync("t", "v", TimeSpan.FromMinutes(1));
            Assert.True((await fromServer.GetAsync<string>("t")).ExpiresAt.HasValue); // value and TTL in one script
            Assert.Single(await fromServer.GetManyAsync<string>(["t", "none"]));
        }

        Assert.True(await cache.DeleteByPatternAsync("*") >= 1);

        // Every refusal so far was a command StackExchange.Redis tries and can do without (ACL LOG lists refusals).
        var log = (RedisResult[])(await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("ACL", "LOG"))!;
        var refused = log.Select(entry => ((RedisResult[])entry!).Select(v => (string?)v).ToList())
            .Select(fields => fields[fields.IndexOf("object") + 1])
            .Distinct()
            .ToList();
        Assert.True(refused.All(c => c is "config|get" or "client|setinfo"), "refused: " + string.Join(", ", refused));

        // The user really is restricted: other commands and other namespaces are refused.
        var db = cache.Multiplexer.GetDatabase();
        await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("FLUSHALL"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.StringSetAsync("other-app:k", "v"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("KEYS", "*"));
    }

    [Fact]
    public async Task AclWithoutScripts_ExpireAsyncFallsBackToPexpire_ServerTtlReadsToGetAndPttl_EachWarnsOnce()
    {
        var port = FreePort.Next();
        await using var server = await RedisServerFixture.StartRedisAsync(port);
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},allowAdmin=true");
        await CreateAclUserAsync(admin, MinimalAcl.Replace("+eval +evalsha +script|load +type ", string.Empty, StringComparison.Ordinal));
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));
        await using var cache = await RedisCache.ConnectAsync($"127.0.0.1:{port},user=taicache,password=acl-pass", new RedisCacheOptions { KeyPrefix = "app:", LoggerFactory = loggerFactory });

        await cache.SetAsync("a", "v", TimeSpan.FromMinutes(10));
        await cache.SetAsync("b", "v", TimeSpan.FromMinutes(10));
        Assert.True(await cache.ExpireAsync("a", TimeSpan.FromMinutes(2)));
        Assert.True(await cache.ExpireAsync("b", TimeSpan.FromMinutes(2)));

        Assert.InRange((await cache.TtlAsync("a")).Value!.Value, TimeSpan.FromMinutes(1.9), TimeSpan.FromMinutes(2));
        Assert.InRange((await cache.TtlAsync("b")).Value!.Value, TimeSpan.FromMinutes(1.9), TimeSpan.FromMinutes(2));
        Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 1015);

        // Reads taking their TTL from Redis fall back to GET and PTTL sent apart, and say so once.
        await using var fromServer = await RedisCache.ConnectAsync($"127.0.0.1:{port},user=taicache,password=acl-pass", new RedisCacheOptions { KeyPrefix = "app:", LoggerFactory = loggerFactory, ReadTtlFromServer = true });
        for (var i = 0; i < 2; i++)
        {
            var hit = await fromServer.GetAsync<string>("a");
            Assert.Equal("v", hit.Value);
            Assert.InRange(hit.ExpiresAt!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1.9), TimeSpan.FromMinutes(2));
            var hits = await ((IBatchReader)fromServer).ReadManyAsync<string>(["a", "b", "none"], default);
            Assert.Equal(["v", "v", null], hits.Select(h => h.HasValue ? h.Value : null));
            Assert.InRange(hits[1].ExpiresAt!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1.9), TimeSpan.FromMinutes(2));
        }

        Assert.False((await fromServer.GetAsync<string>("none")).HasValue);
        Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 1016);
    }

    /// <summary>Creates the user <c>taicache</c> (password <c>acl-pass</c>) limited to <c>app:*</c> and the given commands, as docs/redis.md shows.</summary>
    private static async Task CreateAclUserAsync(ConnectionMultiplexer admin, string commands)
    {
        var rules = new List<object> { "SETUSER", "taicache", "reset", "on", ">acl-pass", "~app:*", "%R~__Booksleeve_TieBreak", "resetchannels", "&__Booksleeve_MasterChanged" };
        rules.AddRange(commands.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("ACL", rules);
    }

    /// <summary>The command list docs/redis.md gives for a minimal ACL user (kept in one place: the doc copies this line).</summary>
    internal const string MinimalAcl =
        "+get +set +setex +psetex +del +unlink +exists +pexpire +expire +pttl +mget +scan +info +dbsize +memory|usage +eval +evalsha +script|load +type +incr +incrby +decr +decrby " +
        "+lpush +rpush +lpop +rpop +lrange +llen +hset +hmset +hget +hgetall +hdel +hexists " +
        "+sadd +srem +sismember +smembers +scard +zadd +zrem +zscore +zrange +zrevrange +zcard " +
        "+ping +echo +select +client|setname +client|id +cluster|nodes +subscribe +unsubscribe +role";

    [Fact]
    public async Task Tls_SelfSignedCertificate_TrustedByCallback_Works_AndUntrustedFails()
    {
        var openssl = ServerProcess.Find("openssl") ?? throw TestEnvironment.MissingServer("openssl for the TLS test", "PATH", "openssl");
        var dir = Directory.CreateTempSubdirectory("taicache-tls-").FullName;
        try
        {
            var certFile = Path.Combine(dir, "redis.crt");
            var keyFile = Path.Combine(dir, "redis.key");
            await RunAsync(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", certFile]);
            using var certificate = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(certFile));

            var plainPort = FreePort.Next();
            var tlsPort = FreePort.Next();
            await using var server = await RedisServerFixture.StartRedisAsync(plainPort,
                "--tls-port", tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", certFile, "--tls-auth-clients", "no");

            var configuration = new ConfigurationOptions { EndPoints = { { "127.0.0.1", tlsPort } }, Ssl = true, SslHost = "localhost" };
            configuration.CertificateValidation += (_, cert, _, errors) =>
                errors == SslPolicyErrors.None || (cert is not null && cert.GetCertHashString() == certificate.GetCertHashString());
            // A generous timeout: the first TLS handshake, with the suite loading both cores, took over 3 s once.
            await using (var cache = new RedisCache(new RedisCacheOptions { Configuration = configuration, OperationTimeout = TimeSpan.FromSeconds(20) }))
            {
                await cache.SetAsync("tls", "over TLS");
                Assert.Equal("over TLS", (await cache.GetAsync<string>("tls")).Value);
                var info = Assert.Single(await cache.InfoAsync("server"));
                Assert.Equal(tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), info.Values["tcp_port"] == "0" ? tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture) : info.EndPoint.Split(':')[^1]);
            }

            // Without the callback the self-signed certificate is refused: the cache fails, it does not silently connect in clear.
            var untrusted = $"127.0.0.1:{tlsPort},ssl=true,sslHost=localhost";
            await using var refused = await RedisCache.ConnectAsync(untrusted, new RedisCacheOptions { OperationTimeout = TimeSpan.FromSeconds(1) });
            var watch = Stopwatch.StartNew();
            await Assert.ThrowsAsync<CacheConnectionException>(async () => await refused.GetAsync<string>("tls"));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void AssertClean(string text)
    {
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
        Assert.DoesNotContain(EmailKey, text, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", text, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task RunAsync(string fileName, IReadOnlyList<string> arguments)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"openssl failed: {await stderr}");
    }
}
