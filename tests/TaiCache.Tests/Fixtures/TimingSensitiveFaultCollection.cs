namespace TaiCache.Tests.Fixtures;

/// <summary>
/// Fault-injection tests whose scripted interleavings (a request swallowed, then every connection cut within a few
/// hundred milliseconds) break down when the machine is saturated by the rest of the suite running in parallel. They
/// run alone, after the parallel collections.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitiveFaultCollection
{
    public const string Name = "Timing-sensitive fault injection";
}
