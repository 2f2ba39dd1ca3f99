using TaiCache.Tiering.Warming;

namespace TaiCache.Sample;

/// <summary>Draws warming progress on one console line.</summary>
internal sealed class ConsoleProgressBar : IProgress<WarmupProgress>
{
    private readonly object _gate = new();
    private int _lastDrawn = -1;

    public void Report(WarmupProgress value)
    {
        var total = value.Total ?? 0;
        var percent = total == 0 ? 100 : value.Completed * 100 / total;
        lock (_gate)
        {
            if (percent <= _lastDrawn)
            {
                return;
            }

            _lastDrawn = percent;
            var filled = percent / 5;
            Console.Write(Console.IsOutputRedirected && percent % 25 != 0 ? string.Empty : $"\r    [{new string('#', filled)}{new string('.', 20 - filled)}] {percent,3}%  loaded {value.Loaded}, failed {value.Failed}, skipped {value.Skipped}");
        }
    }
}
