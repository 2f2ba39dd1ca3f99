using System.Diagnostics;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>Bounded polling for conditions that become true asynchronously (messages arriving over Redis).</summary>
internal static class Wait
{
    public static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(15);

    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        var limit = timeout ?? Ceiling;
        while (!condition())
        {
            if (sw.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:N0} s waiting for {what}.");
            }

            await Task.Delay(2);
        }
    }
}
