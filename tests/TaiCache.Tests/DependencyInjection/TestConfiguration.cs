using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace TaiCache.Tests.DependencyInjection;

/// <summary>Builds configuration from an appsettings-style JSON text, as an application would read appsettings.json.</summary>
internal static class TestConfiguration
{
    public static IConfiguration FromJson(string json)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return new ConfigurationBuilder().AddJsonStream(stream).Build();
    }

    public static string TempDatabase() => Path.Combine(Path.GetTempPath(), $"taicache-di-{Guid.NewGuid():N}.db");

    public static string Json(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal);

    /// <summary>Runs what the host runs at start: every ValidateOnStart registration.</summary>
    public static void ValidateOnStart(IServiceProvider services) =>
        services.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate();
}
