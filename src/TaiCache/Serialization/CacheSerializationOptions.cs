namespace TaiCache.Serialization;

/// <summary>How values are turned into the bytes stored in L2 and L3.</summary>
public sealed class CacheSerializationOptions
{
    /// <summary>Gets or sets the serializer for new values. Values written by the other built-in serializer stay readable.</summary>
    public ICacheSerializer Serializer { get; set; } = MessagePackCacheSerializer.Default;

    /// <summary>Gets or sets extra serializers that can read values other instances wrote (looked up by <see cref="ICacheSerializer.Id"/>).</summary>
    public IList<ICacheSerializer> AdditionalReaders { get; } = new List<ICacheSerializer>();

    /// <summary>
    /// Gets or sets the payload size, in bytes, from which values are LZ4-compressed; <see langword="null"/> turns
    /// compression off. Default 1024. A value is stored compressed only when that makes it smaller.
    /// </summary>
    public int? CompressionThresholdBytes { get; set; } = 1024;

    /// <summary>
    /// Gets or sets the largest serialized value, in bytes before compression, that a write stores and a read accepts.
    /// A larger value is refused with <see cref="CacheValueTooLargeException"/> before anything is sent; on reads the
    /// limit guards against decompression bombs. Default 64 MiB.
    /// </summary>
    public int MaxValueBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (Serializer is null)
        {
            throw new ArgumentException("CacheSerializationOptions.Serializer must not be null.", nameof(Serializer));
        }

        if (CompressionThresholdBytes is < 0)
        {
            throw new ArgumentException($"CacheSerializationOptions.CompressionThresholdBytes must be zero or more (or null to turn compression off); it was {CompressionThresholdBytes}.", nameof(CompressionThresholdBytes));
        }

        if (MaxValueBytes <= 0)
        {
            throw new ArgumentException($"CacheSerializationOptions.MaxValueBytes must be positive; it was {MaxValueBytes}.", nameof(MaxValueBytes));
        }
    }
}
