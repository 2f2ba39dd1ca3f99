namespace TaiCache;

/// <summary>A <see cref="MemoryNode"/> for tiers with a weigher or sliding expiry: adds the weight and the absolute expiry.</summary>
internal sealed class ExtendedMemoryNode : MemoryNode
{
    public ExtendedMemoryNode(string key, int hash, object? value, long weight, long expiresAt, long absoluteExpiresAt)
        : base(key, hash, value, expiresAt)
    {
        EntryWeight = weight;
        AbsoluteExpiry = absoluteExpiresAt;
    }

    /// <summary>The entry's weight.</summary>
    public long EntryWeight { get; }

    /// <summary>The bound set by the time to live; sliding expiry never extends past it.</summary>
    public long AbsoluteExpiry { get; set; }
}
