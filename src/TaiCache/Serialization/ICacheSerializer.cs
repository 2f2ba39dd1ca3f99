using System.Buffers;

namespace TaiCache.Serialization;

/// <summary>Turns values into bytes and back at the edge of a process (L2, L3). Implementations must be thread safe.</summary>
/// <remarks>
/// Bytes read from a shared server are untrusted input: an implementation must never instantiate a type named by the
/// payload.
/// </remarks>
public interface ICacheSerializer
{
    /// <summary>
    /// Gets the identifier written into every stored value's header, so a reader knows which serializer wrote it.
    /// 1 is MessagePack, 2 is System.Text.Json; 0 to 127 are reserved for TaiCache, 128 to 255 are free for your own.
    /// </summary>
    byte Id { get; }

    /// <summary>Writes <paramref name="value"/> to <paramref name="writer"/>.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="writer">Where the bytes go.</param>
    /// <param name="value">The value.</param>
    void Serialize<T>(IBufferWriter<byte> writer, T value);

    /// <summary>Reads a <typeparamref name="T"/> from <paramref name="bytes"/>.</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <param name="bytes">The bytes, without TaiCache's header.</param>
    /// <returns>The value.</returns>
    T Deserialize<T>(ReadOnlyMemory<byte> bytes);
}
