using BenchmarkDotNet.Configs;

namespace TaiCache.Benchmarks.Metrics;

/// <summary>The shared 2-core box builds slowly under load: give BenchmarkDotNet's build of the runner more time.</summary>
public sealed class MetricsBenchmarkConfig : ManualConfig
{
    public MetricsBenchmarkConfig() => WithBuildTimeout(TimeSpan.FromMinutes(10));
}
