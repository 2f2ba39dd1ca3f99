namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>
/// What a coherence test built and must dispose (caches, coherence instances, connections): disposed newest first, so
/// a cache goes before the coherence and the connection it uses.
/// </summary>
internal sealed class OwnedDisposables : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _items = [];

    /// <summary>Takes <paramref name="item"/> to dispose with the others.</summary>
    public void Add(IAsyncDisposable item) => _items.Add(item);

    /// <summary>Disposes everything taken so far, newest first, and forgets it.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_items))
        {
            await owned.DisposeAsync();
        }

        _items.Clear();
    }
}
