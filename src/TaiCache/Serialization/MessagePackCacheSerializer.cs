using System.Buffers;
using MessagePack;
using MessagePack.Resolvers;

namespace TaiCache.Serialization;

/// <summary>
/// The default serializer: MessagePack 2.5 with the contractless resolver (plain classes and records, public or internal, need no attributes)
/// and <see cref="MessagePackSecurity.UntrustedData"/> (hash-collision-safe maps, bounded nesting). Never the typeless
/// resolver: a payload can never name a type to instantiate.
/// </summary>
public sealed class MessagePackCacheSerializer : ICacheSerializer
{
    /// <summary>The identifier stored in the header of values this serializer wrote.</summary>
    public const byte SerializerId = 1;

    private static readonly MessagePackSerializerOptions DefaultOptions =
        MessagePackSerializerOptions.Standard.WithResolver(ContractlessVisibilityResolver.Instance).WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(64));

    // TaiCache's own resolver without MessagePack-level compression: its formatters can be called directly.
    private readonly bool _defaultResolver;

    /// <summary>Initializes the serializer with TaiCache's safe defaults.</summary>
    public MessagePackCacheSerializer()
        : this(DefaultOptions)
    {
    }

    /// <summary>Initializes the serializer with your own options. Security is forced to at least <see cref="MessagePackSecurity.UntrustedData"/>.</summary>
    /// <param name="options">MessagePack options; a typeless resolver and MessagePack-level compression are refused.</param>
    /// <exception cref="ArgumentException">The options name a typeless resolver, or compression other than <see cref="MessagePackCompression.None"/>.</exception>
    public MessagePackCacheSerializer(MessagePackSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Resolver is TypelessContractlessStandardResolver or TypelessObjectResolver)
        {
            throw new ArgumentException("The typeless MessagePack resolvers let stored bytes name a type to instantiate; TaiCache refuses them because cache servers are shared.", nameof(options));
        }

        if (options.Compression != MessagePackCompression.None)
        {
            // The bytes would carry MessagePack's own LZ4 under the MessagePack serializer's id: every other instance
            // (and any other client reading docs/format.md) would find an extension where the value should be.
            throw new ArgumentException($"MessagePack-level compression ({options.Compression}) is refused: TaiCache's envelope compresses values itself with LZ4 (CacheSerializationOptions.CompressionThresholdBytes), in a form every instance and docs/format.md readers understand.", nameof(options));
        }

        Options = options.Security.HashCollisionResistant ? options : options.WithSecurity(MessagePackSecurity.UntrustedData);
        _defaultResolver = ReferenceEquals(Options.Resolver, ContractlessVisibilityResolver.Instance);
    }

    /// <summary>Gets a shared instance with the default options.</summary>
    public static MessagePackCacheSerializer Default { get; } = new();

    /// <summary>Gets the options in use.</summary>
    public MessagePackSerializerOptions Options { get; }

    /// <inheritdoc />
    public byte Id => SerializerId;

    /// <inheritdoc />
    public void Serialize<T>(IBufferWriter<byte> writer, T value)
    {
        if (_defaultResolver && ContractlessVisibilityResolver.FormatterFor<T>() is { } formatter)
        {
            var packer = new MessagePackWriter(writer) { OldSpec = Options.OldSpec ?? false };
            try
            {
                formatter.Serialize(ref packer, value, Options);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new MessagePackSerializationException($"Failed to serialize {typeof(T).FullName} value.", ex);
            }

            packer.Flush();
            return;
        }

        MessagePackSerializer.Serialize(writer, value, Options);
    }

    /// <inheritdoc />
    public T Deserialize<T>(ReadOnlyMemory<byte> bytes)
    {
        // With TaiCache's own resolver, its per-type formatter is called directly. This skips the resolver's generic
        // virtual dispatch from shared generic code, about a tenth of the cost of reading a small object
        // (docs/benchmarks.md, session 5).
        if (_defaultResolver && ContractlessVisibilityResolver.FormatterFor<T>() is { } formatter)
        {
            var reader = new MessagePackReader(bytes);
            T value;
            try
            {
                value = formatter.Deserialize(ref reader, Options);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // As MessagePackSerializer.Deserialize reports it.
                throw new MessagePackSerializationException($"Failed to deserialize {typeof(T).FullName} value.", ex);
            }

            return reader.End ? value : throw TrailingBytes<T>(bytes.Length - (int)reader.Consumed);
        }

        var read = MessagePackSerializer.Deserialize<T>(bytes, Options, out var used);
        return used == bytes.Length ? read : throw TrailingBytes<T>(bytes.Length - used);
    }

    /// <summary>A payload with bytes after its value is not one TaiCache wrote (two values run together, or corruption).</summary>
    private static MessagePackSerializationException TrailingBytes<T>(int count) =>
        new($"Failed to deserialize {typeof(T).FullName} value: {count} bytes follow the value.");
}
