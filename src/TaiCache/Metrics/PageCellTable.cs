using System.Runtime.CompilerServices;

namespace TaiCache.Metrics;

/// <summary>
/// The 256 stack-page slots of a <see cref="MetricsCollector"/>, held inline in the collector (no array to load, no
/// null check): a slot nobody has claimed holds <see cref="CounterCell.Vacant"/>, whose page matches no stack page.
/// </summary>
[InlineArray(MetricsCollector.PageSlots)]
internal struct PageCellTable
{
    private CounterCell _slot;
}
