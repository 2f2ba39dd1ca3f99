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

    public static int Queries;

    /// <summary>One query for many products (a batch factory's source).</summary>
    public static async ValueTask<IReadOnlyDictionary<string, Product>> LoadManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Queries);
        await Task.Delay(1, cancellationToken);
        var found = new Dictionary<string, Product>(keys.Count);
        foreach (var key in keys)
        {
            var id = int.Parse(key.AsSpan("product:".Length), System.Globalization.CultureInfo.InvariantCulture);
            found[key] = new Product(id, $"Product {id}", 10m + (id % 90), []);
        }

        return found;
    }
}
