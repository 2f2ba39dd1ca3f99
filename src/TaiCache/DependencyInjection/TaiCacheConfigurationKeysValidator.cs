using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace TaiCache.DependencyInjection;

/// <summary>
/// Fails a cache's start when its configuration section holds a key no setting has (a misspelt <c>Memory:MaxSize</c>
/// would otherwise be ignored by the binder and leave the default in place), a setting only code can give (a
/// delegate, a connection, a serializer object), or a single value where a list belongs; each named by its full path.
/// </summary>
internal sealed class TaiCacheConfigurationKeysValidator : IValidateOptions<TaiCacheOptions>
{
    private readonly string _name;
    private readonly IConfiguration _section;

    public TaiCacheConfigurationKeysValidator(string name, IConfiguration section)
    {
        _name = name;
        _section = section;
    }

    public ValidateOptionsResult Validate(string? name, TaiCacheOptions options)
    {
        if (!string.Equals(name ?? Options.DefaultName, _name, StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Skip;
        }

        var problems = new List<string>();
        Collect(_section, typeof(TaiCacheOptions), problems);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void Collect(IConfiguration section, Type type, List<string> problems)
    {
        foreach (var child in section.GetChildren())
        {
            var path = child is IConfigurationSection s ? s.Path : child.Key;
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                problems.Add($"{path} is not a TaiCache setting (misspelt?); see docs/dependency-injection.md for the keys.");
            }
            else if (property.PropertyType.IsClass && property.PropertyType.Namespace == typeof(TaiCacheOptions).Namespace)
            {
                Collect(child, property.PropertyType, problems);
            }
            else if (IsCodeOnly(property.PropertyType))
            {
                // A delegate, a connection or a serializer object: the binder skips it, and the cache ran without it.
                problems.Add($"{path} can only be set in code (with the builder or a Configure callback), not in configuration.");
            }
            else if (property.PropertyType != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(property.PropertyType) && child.Value is not null)
            {
                // "Servers": "host:port" binds nothing to a list: the cache was built without the tier.
                problems.Add($"{path} is a list: give it as a JSON array (\"{child.Key}\": [\"{child.Value}\"]) or as {path}:0, {path}:1 and so on.");
            }
        }
    }

    private static bool IsCodeOnly(Type type)
    {
        var plain = Nullable.GetUnderlyingType(type) ?? type;
        return typeof(Delegate).IsAssignableFrom(plain) || (plain.IsInterface && !typeof(System.Collections.IEnumerable).IsAssignableFrom(plain));
    }
}
