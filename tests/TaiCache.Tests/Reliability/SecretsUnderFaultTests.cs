using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TaiCache.Redis;
using TaiCache.Tests.Fixtures;
using TaiCache.Tiering;

namespace TaiCache.Tests.Reliability;

/// <summary>
/// Issue 8, secrets: a password-protected Redis under a multi-tier cache with an e-mail address as key. The server is
/// SIGKILLed mid-use; neither the password nor the e-mail may appear in any exception or log line of Redis or of the
/// multi-tier cache. With <see cref="TaiCacheDiagnostics.IncludeKeysInMessages"/> set (a process-wide static, so this
/// class runs alone and restores it), the key does appear. The password never does.
/// </summary>
[Collection(nameof(SecretsUnderFaultTests))]
[CollectionDefinition(nameof(SecretsUnderFaultTests), DisableParallelization = true)]
public sealed class SecretsUnderFaultTests
{
    private const string Password = "Rel-s3cr3t-do-not-print";
    private const string EmailKey = "bob.secret@example.org";

    [Fact]
    public async Task RedisKilledUnderMultiTier_PasswordAndEmailKeyAbsentFromExceptionsAndLogs_KeyOnlyWhenOptedIn()
    {
        var port = FreePort.Next();
        await using var server = await RedisServerFixture.StartRedisAsync(port, "--requirepass", Password);
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)));
        var redis = new RedisCache(new RedisCacheOptions
        {
            ConnectionString = $"127.0.0.1:{port},password={Password},abortConnect=false,connectRetry=1,connectTimeout=1000",
            OperationTimeout = TimeSpan.FromMilliseconds(800),
            LoggerFactory = loggerFactory,
        });
        var options = new MultiTierCacheOptions { Logger = loggerFactory.CreateLogger("multitier"), CircuitBreakerFailureThreshold = 1000 };
        options.Tiers.Add(ReliabilityKit.Memory());
        options.Tiers.Add(redis);
        await using var cache = new MultiTierCache(options);

        // The options constructor connects in the background (connectTimeout 1 s, OperationTimeout 800 ms): on a loaded
        // machine the first set may come before the connection. This test is about what fails after the kill.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await cache.SetAsync(EmailKey, "v1");
                break;
            }
            catch (TierWriteException) when (attempt < 20)
            {
                await Task.Delay(250);
            }
        }

        server.Kill();
        var texts = new List<string>();
        ((InMemoryTier)cache.Tiers[0]).Clear();
        texts.Add((await Record(() => cache.SetAsync(EmailKey, "v2").AsTask()))!);
        texts.Add((await Record(() => redis.GetAsync<string>(EmailKey).AsTask()))!);
        texts.Add((await Record(() => cache.GetOrSetAsync<string>(EmailKey, _ => throw new InvalidOperationException("factory down")).AsTask())) ?? string.Empty);
        Assert.Contains(texts, t => t.Length > 0); // some call did fail
        var logs = collector.GetSnapshot();
        Assert.NotEmpty(logs);
        foreach (var text in texts.Concat(logs.Select(r => r.Message + r.Exception)))
        {
            Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(EmailKey, text, StringComparison.Ordinal);
            Assert.DoesNotContain("bob.secret", text, StringComparison.Ordinal);
        }

        var before = TaiCacheDiagnostics.IncludeKeysInMessages;
        try
        {
            TaiCacheDiagnostics.IncludeKeysInMessages = true;
            var optedIn = await Record(() => redis.GetAsync<string>(EmailKey).AsTask());
            Assert.NotNull(optedIn);
            Assert.Contains(EmailKey, optedIn, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, optedIn, StringComparison.Ordinal);
        }
        finally
        {
            TaiCacheDiagnostics.IncludeKeysInMessages = before;
        }
    }

    private static async Task<string?> Record(Func<Task> call)
    {
        try
        {
            await call();
            return null;
        }
        catch (Exception e)
        {
            return e.ToString();
        }
    }
}
