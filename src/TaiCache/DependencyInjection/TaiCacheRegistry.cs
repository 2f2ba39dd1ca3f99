namespace TaiCache.DependencyInjection;

/// <summary>The names of the caches registered in one service collection (a singleton instance in it).</summary>
internal sealed class TaiCacheRegistry
{
    private readonly List<string> _names = [];

    public IReadOnlyList<string> Names => _names;

    public bool Add(string name)
    {
        if (_names.Contains(name, StringComparer.Ordinal))
        {
            return false;
        }

        _names.Add(name);
        return true;
    }
}
