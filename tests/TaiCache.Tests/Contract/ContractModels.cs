namespace TaiCache.Tests.Contract;

/// <summary>A plain class without attributes, as users store them.</summary>
public sealed class Customer
{
    public int Id { get; set; }

    public string Name { get; set; } = string.Empty;

    public List<string> Tags { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A positional record, as users store them.</summary>
public sealed record OrderLine(string Sku, int Quantity, decimal Price);
