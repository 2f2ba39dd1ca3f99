namespace TaiCache.DependencyInjection;

/// <summary>The serializer a cache registered with <c>AddTaiCache</c> uses for the tiers that store bytes.</summary>
public enum TaiCacheSerializerKind
{
    /// <summary>MessagePack (contractless, untrusted-data mode): compact and fast. The default.</summary>
    MessagePack = 0,

    /// <summary>System.Text.Json: readable payloads, slower and larger.</summary>
    SystemTextJson = 1,
}
