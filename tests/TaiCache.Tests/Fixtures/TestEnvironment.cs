namespace TaiCache.Tests.Fixtures;

/// <summary>What the test run may rely on.</summary>
internal static class TestEnvironment
{
    /// <summary>Gets a value indicating whether the run is under CI, where a missing server fails the run.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The error for a server that cannot be found or started.</summary>
    public static InvalidOperationException MissingServer(string what, string envVar, string package) =>
        new($"No {what} for the tests: set {envVar} to a connection, or install '{package}' (apt-get install -y {package}) so the fixture can start one. " +
            "Real-server tests never skip silently." + (IsCi ? " (CI=true)" : string.Empty));
}
