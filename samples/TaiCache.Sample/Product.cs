namespace TaiCache.Sample;

/// <summary>A plain record as an application would cache it: no attributes needed.</summary>
internal sealed record Product(int Id, string Name, decimal Price, string[] Tags);

/// <summary>A slow "database" the cache sits in front of.</summary>
internal static class Catalog
{
    public static int Loads;

    public static async ValueTask<Product> LoadAsync(int id, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Loads);
        await Task.Delay(1, cancellationToken);
        return new Product(id, $"Product {id}", 10m + (id % 90), id % 3 == 0 ? ["featured"] : []);
    }
}
