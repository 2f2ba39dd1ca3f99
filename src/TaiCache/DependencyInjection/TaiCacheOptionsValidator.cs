using Microsoft.Extensions.Options;

namespace TaiCache.DependencyInjection;

/// <summary>Validates each registered cache's <see cref="TaiCacheOptions"/>, naming the configuration key at fault.</summary>
internal sealed class TaiCacheOptionsValidator : IValidateOptions<TaiCacheOptions>
{
    private readonly TaiCacheRegistry _registry;

    public TaiCacheOptionsValidator(TaiCacheRegistry registry) => _registry = registry;

    public ValidateOptionsResult Validate(string? name, TaiCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        name ??= Options.DefaultName;
        if (!_registry.Names.Contains(name, StringComparer.Ordinal))
        {
            return ValidateOptionsResult.Skip;
        }

        var errors = options.Check($"{TaiCacheOptions.CachesSection}:{name}");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
