using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;

namespace TaiCache.Benchmarks.Tiering;

/// <summary>Adds p50 and p95 columns (BenchmarkDotNet has no p99 column).</summary>
public sealed class PercentileConfig : ManualConfig
{
    public PercentileConfig() => AddColumn(StatisticColumn.P50, StatisticColumn.P95);
}
