namespace TaiCache.Benchmarks.Tiering;

/// <summary>A small mutable POCO (about 40 bytes as contractless MessagePack), as users cache them.</summary>
public sealed class Product
{
    public int Id { get; set; }

    public string Name { get; set; } = string.Empty;

    public decimal Price { get; set; }

    public bool InStock { get; set; }

    public static Product Sample(int id) => new() { Id = id, Name = "Widget " + id, Price = 19.99m, InStock = true };
}
