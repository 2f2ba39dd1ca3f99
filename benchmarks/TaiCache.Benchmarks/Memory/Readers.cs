using System.Collections.Concurrent;
using BitFaster.Caching.Lfu;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using ZiggyCreatures.Caching.Fusion;

namespace TaiCache.Benchmarks.Memory;

/// <summary>One lookup on one cache; implemented by structs so generic loops inline it (no delegate call per lookup).</summary>
internal interface IReader
{
    bool Read(string key);

    void Write(string key, string value);
}

internal readonly struct DictionaryReader(ConcurrentDictionary<string, string> cache) : IReader
{
    public bool Read(string key) => cache.TryGetValue(key, out _);

    public void Write(string key, string value) => cache[key] = value;
}

internal readonly struct TaiReader(InMemoryTier cache) : IReader
{
    public bool Read(string key) => cache.TryGet<string>(key, out _);

    public void Write(string key, string value) => cache.Set(key, value);
}

internal readonly struct LruReader(ConcurrentLru<string, string> cache) : IReader
{
    public bool Read(string key) => cache.TryGet(key, out _);

    public void Write(string key, string value) => cache.AddOrUpdate(key, value);
}

internal readonly struct LfuReader(ConcurrentLfu<string, string> cache) : IReader
{
    public bool Read(string key) => cache.TryGet(key, out _);

    public void Write(string key, string value) => cache.AddOrUpdate(key, value);
}

internal readonly struct MemoryReader(MemoryCache cache) : IReader
{
    public bool Read(string key) => cache.TryGetValue(key, out _);

    public void Write(string key, string value) => cache.Set(key, value, Peers.SizeOne);
}

internal readonly struct FusionReader(FusionCache cache) : IReader
{
    public bool Read(string key) => cache.TryGet<string>(key).HasValue;

    public void Write(string key, string value) => cache.Set(key, value);
}

internal readonly struct HybridReader(HybridCache cache) : IReader
{
    public bool Read(string key)
    {
        var pending = cache.GetOrCreateAsync<string?>(key, static _ => default, Peers.HybridReadOnly);
        return (pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult()) is not null;
    }

    public void Write(string key, string value) => cache.SetAsync(key, value).AsTask().GetAwaiter().GetResult();
}
