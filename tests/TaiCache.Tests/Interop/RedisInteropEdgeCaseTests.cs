using System.Security.Cryptography;
using MessagePack;
using MessagePack.Resolvers;
using StackExchange.Redis;
using TaiCache.Redis;
using TaiCache.Serialization;
using TaiCache.Tests.Fixtures;

namespace TaiCache.Tests.Interop;

/// <summary>
/// Audit (session 33, b): what other clients, and other TaiCache instances sharing a Redis server, meet in what
/// TaiCache stores. Each test states what docs/format.md or docs/redis.md promise.
/// </summary>
public sealed class RedisInteropEdgeCaseTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _redis;

    public RedisInteropEdgeCaseTests(RedisServerFixture redis) => _redis = redis;

    private Task<RedisCache> ConnectAsync(string prefix, CacheSerializationOptions? serialization = null) =>
        RedisCache.ConnectAsync(_redis.ConnectionString, new RedisCacheOptions { KeyPrefix = prefix, Serialization = serialization ?? new CacheSerializationOptions() });

    /// <summary>
    /// docs/redis.md: "Set and sorted-set members are compared by their stored bytes: equal values must serialize to
    /// equal bytes, which holds for the built-in serializers with the same options." Two instances with default options
    /// share a set of large (over 1 KiB, compressible) members. The second one has just stored a few incompressible
    /// values (images, already-compressed blobs), so its codec skips LZ4 on the next encodes: it encodes the same member
    /// uncompressed, and SISMEMBER/SREM/SADD miss the compressed member the first instance stored.
    /// </summary>
    [Fact]
    public async Task SetContainsAsync_LargeMember_IsFoundByAnotherInstanceWithTheSameOptions_WhateverIt_StoredBefore()
    {
        var prefix = $"{nameof(RedisInteropEdgeCaseTests)}:{Guid.NewGuid():N}:";
        await using var writer = await ConnectAsync(prefix);
        await using var reader = await ConnectAsync(prefix);
        var member = string.Concat(Enumerable.Repeat("customer-segment:premium;", 80)); // ~2 KB, compresses well

        // The reader's ordinary traffic: 8 incompressible values (random bytes over the threshold).
        for (var i = 0; i < 8; i++)
        {
            await reader.SetAsync($"blob:{i}", RandomNumberGenerator.GetBytes(4096));
        }

        Assert.True(await writer.SetAddAsync("segments", member));

        Assert.True(await reader.SetContainsAsync("segments", member), "the member another instance with the same options added is not found");
        Assert.False(await reader.SetAddAsync("segments", member), "the same member was added a second time");
        Assert.Equal(1, await reader.SetLengthAsync("segments"));
    }

    /// <summary>The same for one instance: a member added while its codec skips compression is not found (or removed)
    /// once compression resumes, and the sorted-set score of the member is lost.</summary>
    [Fact]
    public async Task SortedSetScoreAsync_LargeMember_IsFoundAgainByTheInstanceThatAddedIt()
    {
        var prefix = $"{nameof(RedisInteropEdgeCaseTests)}:{Guid.NewGuid():N}:";
        await using var cache = await ConnectAsync(prefix);
        var member = string.Concat(Enumerable.Repeat("leaderboard-player-profile;", 80));
        for (var i = 0; i < 8; i++)
        {
            await cache.SetAsync($"blob:{i}", RandomNumberGenerator.GetBytes(4096));
        }

        Assert.True(await cache.SortedSetAddAsync("board", member, 42));
        var scores = new List<double?>();
        for (var i = 0; i < 20; i++)
        {
            scores.Add(await cache.SortedSetScoreAsync("board", member));
        }

        Assert.All(scores, s => Assert.Equal(42, s));
    }

    /// <summary>
    /// docs/format.md: "any TaiCache instance, of any configuration, can read what another wrote". An instance whose
    /// MessagePack serializer has MessagePack-CSharp's own LZ4 (a documented constructor, <c>MessagePackCacheSerializer(options)</c>)
    /// still writes serializer id 1, and a default instance cannot read its values (nor can a Python reader following
    /// docs/format.md: the payload is ext type 98). Either such options must be refused when the serializer is built,
    /// or the value must be readable.
    /// </summary>
    [Fact]
    public async Task GetAsync_ValueFromAnInstanceWithMessagePackCompression_IsReadableByADefaultInstance()
    {
        MessagePackCacheSerializer serializer;
        try
        {
            serializer = new MessagePackCacheSerializer(MessagePackSerializerOptions.Standard.WithResolver(ContractlessStandardResolver.Instance).WithCompression(MessagePackCompression.Lz4BlockArray));
        }
        catch (ArgumentException)
        {
            return; // refused up front: no unreadable value can be written
        }

        var prefix = $"{nameof(RedisInteropEdgeCaseTests)}:{Guid.NewGuid():N}:";
        await using var writer = await ConnectAsync(prefix, new CacheSerializationOptions { Serializer = serializer });
        await using var reader = await ConnectAsync(prefix);
        var value = string.Concat(Enumerable.Repeat("report line; ", 300));
        await writer.SetAsync("report", value);

        var hit = await reader.GetAsync<string>("report");
        Assert.Equal(value, hit.Value);
    }

    /// <summary>
    /// docs/redis.md: "Anything else under a key (bytes written by another client, ...) raises
    /// CacheSerializationException naming the key, never a wrong value." Another client stores the text "42 " (a
    /// fixed-width field, say); Redis itself does not take it for a number (INCR refuses it). TaiCache reads it as the
    /// string "42", a value nobody stored, and GetCounterAsync calls it an integer outside the 64-bit range.
    /// </summary>
    [Fact]
    public async Task GetAsync_AnotherClientsTextWithTrailingSpace_IsNeverReturnedChanged()
    {
        var prefix = $"{nameof(RedisInteropEdgeCaseTests)}:{Guid.NewGuid():N}:";
        await using var cache = await ConnectAsync(prefix);
        var db = cache.Multiplexer.GetDatabase();
        await db.StringSetAsync(prefix + "code", "42 ");
        await Assert.ThrowsAsync<RedisServerException>(() => db.StringIncrementAsync(prefix + "code")); // not a counter to Redis

        var read = await Record.ExceptionAsync(async () =>
        {
            var hit = await cache.GetAsync<string>("code");
            Assert.Equal("42 ", hit.Value); // the stored text, if anything
        });
        Assert.True(read is null or CacheSerializationException, $"unexpected {read}");
        Assert.Equal("42 ", (string?)await db.StringGetAsync(prefix + "code"));
    }
}
