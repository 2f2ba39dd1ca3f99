using System.Globalization;

namespace TaiCache.Metrics;

/// <summary>One objective as a <see cref="SloChecker"/> measured it: the measured value, the target, and whether it was met.</summary>
/// <param name="Objective">The objective.</param>
/// <param name="Measured">The measured value: a fraction in [0, 1] for rates, microseconds for latencies.</param>
/// <param name="Target">The target, in the same unit.</param>
/// <param name="IsMet">Whether the measured value meets the target.</param>
public sealed record SloMeasurement(SloObjective Objective, double Measured, double Target, bool IsMet)
{
    /// <summary>Gets the unit of <see cref="Measured"/> and <see cref="Target"/>: <c>ratio</c> or <c>us</c>.</summary>
    public string Unit => IsLatency ? "us" : "ratio";

    /// <summary>Gets a value indicating whether the target is a ceiling (at most) rather than a floor (at least).</summary>
    public bool IsCeiling => Objective != SloObjective.HitRate;

    private bool IsLatency => Objective is SloObjective.HitLatency or SloObjective.MissLatency;

    /// <summary>Formats the measured value for people (a percentage or microseconds).</summary>
    /// <returns>The text.</returns>
    public string FormatMeasured() => Format(Measured);

    /// <summary>Formats the target for people, with its direction (<c>&gt;=</c> or <c>&lt;=</c>).</summary>
    /// <returns>The text.</returns>
    public string FormatTarget() => (IsCeiling ? "<= " : ">= ") + Format(Target);

    /// <inheritdoc />
    public override string ToString() =>
        $"{Objective}: {FormatMeasured()} (target {FormatTarget()}) {(IsMet ? "met" : "VIOLATED")}";

    private string Format(double value) => IsLatency
        ? value.ToString("0.###", CultureInfo.InvariantCulture) + " us"
        : (value * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";
}
