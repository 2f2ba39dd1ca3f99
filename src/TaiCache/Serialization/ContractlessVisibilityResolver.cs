using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace TaiCache.Serialization;

/// <summary>
/// Contractless MessagePack for any type the application declares: public types serialize their public members (as
/// <see cref="ContractlessStandardResolver"/>); types the dynamic resolver cannot see (internal or private records,
/// common in applications) fall back to <see cref="ContractlessStandardResolverAllowPrivate"/>, which also carries
/// their private fields. No typeless formatter is ever involved: the payload never names a type.
/// </summary>
internal sealed class ContractlessVisibilityResolver : IFormatterResolver
{
    public static readonly ContractlessVisibilityResolver Instance = new();

    private ContractlessVisibilityResolver()
    {
    }

    public IMessagePackFormatter<T>? GetFormatter<T>() => Cache<T>.Formatter;

    /// <summary>The formatter for <typeparamref name="T"/>, without an interface's generic virtual call.</summary>
    public static IMessagePackFormatter<T>? FormatterFor<T>() => Cache<T>.Formatter;

    private static bool IsVisible(Type type)
    {
        if (type.IsGenericType && !type.GetGenericArguments().All(IsVisible))
        {
            return false;
        }

        if (type.IsArray)
        {
            return IsVisible(type.GetElementType()!);
        }

        return type.IsPublic || (type.IsNestedPublic && IsVisible(type.DeclaringType!)) || type.IsGenericParameter;
    }

    private static class Cache<T>
    {
        public static readonly IMessagePackFormatter<T>? Formatter = IsVisible(typeof(T))
            ? ContractlessStandardResolver.Instance.GetFormatter<T>()
            : ContractlessStandardResolverAllowPrivate.Instance.GetFormatter<T>();
    }
}
