using System.Collections.Concurrent;
using System.Reflection;
using TaiCache.Serialization;

namespace TaiCache;

/// <summary>
/// Encodes and decodes <see cref="InMemoryTierOptions.StoreSerializedCopies"/> copies as the value's runtime type, not the
/// type it was set as: a <c>Derived</c> set as its <c>Base</c> (or as <see cref="object"/>, or an interface) keeps its own
/// members and reads back as a <c>Derived</c>, as the same entry does without copies.
/// </summary>
internal static class RuntimeTypedCopy
{
    private static readonly ConcurrentDictionary<Type, Codec> Codecs = new();

    /// <summary>Encodes <paramref name="value"/> as its runtime type (directly when that is <typeparamref name="T"/>).</summary>
    public static byte[] Encode<T>(string key, T value) =>
        value is null || typeof(T).IsValueType || value.GetType() == typeof(T)
            ? CacheValueCodec.Default.Encode(key, value)
            : For(value.GetType()).Encode(key, value);

    /// <summary>Decodes a copy encoded as <paramref name="storedType"/> (which <typeparamref name="T"/> can hold) as that type.</summary>
    public static T Decode<T>(string key, byte[] bytes, Type storedType) =>
        storedType == typeof(T) || storedType == Nullable.GetUnderlyingType(typeof(T))
            ? CacheValueCodec.Default.Decode<T>(key, bytes)
            : (T)For(storedType).Decode(key, bytes)!;

    private static Codec For(Type type) => Codecs.GetOrAdd(type, static t => new Codec(t));

    /// <summary>The codec's generic methods closed over one runtime type, as delegates (reflection once per type).</summary>
    private sealed class Codec
    {
        private static readonly MethodInfo EncodeMethod = typeof(Codec).GetMethod(nameof(EncodeAs), BindingFlags.NonPublic | BindingFlags.Static)!;
        private static readonly MethodInfo DecodeMethod = typeof(Codec).GetMethod(nameof(DecodeAs), BindingFlags.NonPublic | BindingFlags.Static)!;

        public Codec(Type type)
        {
            Encode = EncodeMethod.MakeGenericMethod(type).CreateDelegate<Func<string, object, byte[]>>();
            Decode = DecodeMethod.MakeGenericMethod(type).CreateDelegate<Func<string, byte[], object?>>();
        }

        public Func<string, object, byte[]> Encode { get; }

        public Func<string, byte[], object?> Decode { get; }

        private static byte[] EncodeAs<TRuntime>(string key, object value) => CacheValueCodec.Default.Encode(key, (TRuntime)value);

        private static object? DecodeAs<TRuntime>(string key, byte[] bytes) => CacheValueCodec.Default.Decode<TRuntime>(key, bytes);
    }
}
