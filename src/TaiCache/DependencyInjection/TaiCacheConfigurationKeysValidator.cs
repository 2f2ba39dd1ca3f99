using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace TaiCache.DependencyInjection;

/// <summary>
/// Fails a cache's start when its configuration section holds a key no setting has (a misspelt <c>Memory:MaxSize</c>
/// would otherwise be ignored by the binder and leave the default in place), naming the key's full path.
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

        var unknown = new List<string>();
        Collect(_section, typeof(TaiCacheOptions), unknown);
        return unknown.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(unknown.Select(path => $"{path} is not a TaiCache setting (misspelt?); see docs/dependency-injection.md for the keys."));
    }

    private static void Collect(IConfiguration section, Type type, List<string> unknown)
    {
        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                unknown.Add(child is IConfigurationSection s ? s.Path : child.Key);
            }
            else if (property.PropertyType.IsClass && property.PropertyType.Namespace == typeof(TaiCacheOptions).Namespace)
            {
                Collect(child, property.PropertyType, unknown);
            }
        }
    }
}
