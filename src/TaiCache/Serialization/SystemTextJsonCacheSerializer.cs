using System.Buffers;
using System.Text.Json;

namespace TaiCache.Serialization;

/// <summary>A System.Text.Json serializer: stored values are readable JSON after TaiCache's header.</summary>
public sealed class SystemTextJsonCacheSerializer : ICacheSerializer
{
    /// <summary>The identifier stored in the header of values this serializer wrote.</summary>
    public const byte SerializerId = 2;

    /// <summary>Initializes the serializer with web defaults (camelCase, bounded depth).</summary>
    /// <param name="options">Serializer options; <see langword="null"/> for <see cref="JsonSerializerDefaults.Web"/>.</param>
    public SystemTextJsonCacheSerializer(JsonSerializerOptions? options = null)
    {
        Options = options ?? new JsonSerializerOptions(JsonSerializerDefaults.Web) { MaxDepth = 64 };
    }

    /// <summary>Gets a shared instance with the default options.</summary>
    public static SystemTextJsonCacheSerializer Default { get; } = new();

    /// <summary>Gets the options in use.</summary>
    public JsonSerializerOptions Options { get; }

    /// <inheritdoc />
    public byte Id => SerializerId;

    /// <inheritdoc />
    public void Serialize<T>(IBufferWriter<byte> writer, T value)
    {
        using var json = new Utf8JsonWriter(writer);
        JsonSerializer.Serialize(json, value, Options);
    }

    /// <inheritdoc />
    public T Deserialize<T>(ReadOnlyMemory<byte> bytes) => JsonSerializer.Deserialize<T>(bytes.Span, Options)!;
}
