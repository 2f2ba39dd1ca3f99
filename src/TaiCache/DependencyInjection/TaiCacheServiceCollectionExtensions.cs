using TaiCache.Tiering;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TaiCache;
using TaiCache.DependencyInjection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers TaiCache caches in a service collection.</summary>
/// <remarks>
/// <para>Each cache is a <see cref="MultiTierCache"/> built on first use from its named <see cref="TaiCacheOptions"/>
/// and disposed with the service provider (dispose the provider asynchronously so write-behind queues drain). It is
/// resolvable as a keyed <see cref="MultiTierCache"/> and <see cref="ICacheOps"/> (key: its name), through
/// <see cref="ITaiCacheProvider.GetCache"/>, and, for the first cache registered, unkeyed.</para>
/// <para>Options are validated when the host starts (<c>ValidateOnStart</c>); a bad option fails the start with a
/// message naming its configuration key, such as <c>TaiCache:Caches:default:Memory:MaximumSize</c>.</para>
/// <para>A <see cref="TimeProvider"/> and an <see cref="ILoggerFactory"/> registered in the container are used when present.</para>
/// </remarks>
public static class TaiCacheServiceCollectionExtensions
{
    /// <summary>Registers the default cache (an in-memory L1 of 10,000 entries unless configured otherwise).</summary>
    /// <param name="services">The services.</param>
    /// <returns>The cache's builder.</returns>
    public static TaiCacheBuilder AddTaiCache(this IServiceCollection services) =>
        AddTaiCache(services, TaiCacheOptions.DefaultName, configure: null);

    /// <summary>Registers the default cache, configured in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Changes the options.</param>
    /// <returns>The cache's builder.</returns>
    public static TaiCacheBuilder AddTaiCache(this IServiceCollection services, Action<TaiCacheOptions> configure) =>
        AddTaiCache(services, TaiCacheOptions.DefaultName, configure);

    /// <summary>Registers a named cache.</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="configure">Changes the options; <see langword="null"/> for none.</param>
    /// <returns>The cache's builder.</returns>
    public static TaiCacheBuilder AddTaiCache(this IServiceCollection services, string name, Action<TaiCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var registry = EnsureCore(services);
        if (registry.Add(name))
        {
            services.AddOptions<TaiCacheOptions>(name).ValidateOnStart();
            services.AddKeyedSingleton<MultiTierCache>(name, (sp, _) => sp.GetRequiredService<ITaiCacheProvider>().GetCache(name));
            services.AddKeyedSingleton<ICacheOps>(name, (sp, _) => sp.GetRequiredKeyedService<MultiTierCache>(name));
            services.TryAddSingleton<MultiTierCache>(sp => sp.GetRequiredKeyedService<MultiTierCache>(name));
            services.TryAddSingleton<ICacheOps>(sp => sp.GetRequiredKeyedService<MultiTierCache>(name));
        }

        var builder = new TaiCacheBuilder(services, name);
        return configure is null ? builder : builder.Configure(configure);
    }

    /// <summary>Registers a named cache bound from configuration: the section <c>TaiCache:Caches:{name}</c> of <paramref name="configuration"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The application's configuration (its root, holding a <c>TaiCache</c> section).</param>
    /// <param name="name">The cache's name. Default <see cref="TaiCacheOptions.DefaultName"/>.</param>
    /// <returns>The cache's builder.</returns>
    public static TaiCacheBuilder AddTaiCache(this IServiceCollection services, IConfiguration configuration, string name = TaiCacheOptions.DefaultName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddTaiCache(services, name).BindConfiguration(configuration.GetSection($"{TaiCacheOptions.CachesSection}:{name}"));
    }

    /// <summary>Registers every cache named under the <c>TaiCache:Caches</c> section of <paramref name="configuration"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The application's configuration (its root, holding a <c>TaiCache</c> section).</param>
    /// <returns>A builder per cache, in key order (the order configuration lists sections), for code-only settings and adapters.</returns>
    public static IReadOnlyList<TaiCacheBuilder> AddTaiCachesFromConfiguration(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builders = new List<TaiCacheBuilder>();
        foreach (var section in configuration.GetSection(TaiCacheOptions.CachesSection).GetChildren())
        {
            builders.Add(AddTaiCache(services, section.Key).BindConfiguration(section));
        }

        return builders;
    }

    private static TaiCacheRegistry EnsureCore(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(TaiCacheRegistry) && !descriptor.IsKeyedService && descriptor.ImplementationInstance is TaiCacheRegistry existing)
            {
                return existing;
            }
        }

        var registry = new TaiCacheRegistry();
        services.AddSingleton(registry);
        services.AddOptions();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TaiCacheOptions>, TaiCacheOptionsValidator>());
        services.TryAddSingleton(sp => new TaiCacheProvider(
            sp.GetRequiredService<TaiCacheRegistry>(),
            sp.GetRequiredService<IOptionsMonitor<TaiCacheOptions>>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<ITaiCacheProvider>(sp => sp.GetRequiredService<TaiCacheProvider>());
        return registry;
    }
}
